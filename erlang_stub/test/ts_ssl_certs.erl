%% Certificates made at test time with the openssl command line: a CA and the certificates the
%% manual's verification reasons need (valid, expired, not yet valid, self-signed, unknown issuer,
%% chains longer than `depth', a certificate for client authentication only), a key that does not
%% match, password-protected keys and corrupt files. EC P-256 keys, because they are quick to
%% make. A second CA and what it issues are signed with SHA-1, as public_key:pkix_test_data/1
%% signs by default; one certificate is for an X25519 key, which TLS has no use for.
-module(ts_ssl_certs).

-export([make/1, path/2, der/2, pkix_test_data/3]).

%% Name => how it is made. Issuers come before what they sign.
-define(CERTS,
        [{ca, root},
         {server, {signed, ca, leaf, now}},
         {client, {signed, ca, leaf, now}},
         {expired, {signed, ca, leaf, {"20000101000000Z", "20010101000000Z"}}},
         {not_yet_valid, {signed, ca, leaf, {"20900101000000Z", "20910101000000Z"}}},
         {self_signed, self_signed},
         {other_ca, root},
         {stranger, {signed, other_ca, leaf, now}},
         {intermediate1, {signed, ca, ca_ext, now}},
         {intermediate2, {signed, intermediate1, ca_ext, now}},
         %% extendedKeyUsage clientAuth: OpenSSL refuses it to a server ("unsupported
         %% certificate purpose"), a reason the manual names only as epeercert.
         {client_auth_only, {signed, ca, client_auth_leaf, now}},
         {short_chain, {signed, intermediate1, leaf, now}},
         {long_chain, {signed, intermediate2, leaf, now}},
         {sha1_ca, {root, "sha1"}},
         {sha1_server, {signed, sha1_ca, leaf, now, "sha1"}},
         {sha1_client, {signed, sha1_ca, leaf, now, "sha1"}}]).

-define(PASSWORD, "s3cret pass").

%% Makes every file in Dir, a new directory. Returns a map of what the suite uses: file names by role.
-spec make(file:filename()) -> #{atom() => term()}.
make(Dir) ->
    ok = file:make_dir(Dir),
    ok = write(Dir, "openssl.cnf", config(Dir)),
    ok = write(Dir, "index.txt", ""),
    ok = write(Dir, "serial", "01\n"),
    ok = file:make_dir(filename:join(Dir, "issued")),
    lists:foreach(fun({Name, How}) -> make_cert(Dir, Name, How) end, ?CERTS),
    %% Chains as a server sends them: its own certificate first, then the intermediates.
    ok = concat(Dir, "short_chain_bundle.pem", ["short_chain.pem", "intermediate1.pem"]),
    ok = concat(Dir, "long_chain_bundle.pem",
                ["long_chain.pem", "intermediate2.pem", "intermediate1.pem"]),
    %% An untrusted root sent along with its leaf: "self-signed certificate in chain".
    ok = concat(Dir, "stranger_bundle.pem", ["stranger.pem", "other_ca.pem"]),
    [openssl(Dir, ["ec", "-in", Name ++ ".key", "-aes128", "-passout", "pass:" ++ ?PASSWORD,
                   "-out", Name ++ "_encrypted.key"])
     || Name <- ["server", "client"]],
    ok = write(Dir, "corrupt.pem",
               "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"),
    ok = write(Dir, "corrupt.key",
               "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5\n-----END EC PRIVATE KEY-----\n"),
    ok = write(Dir, "garbage.bin", lists:seq(0, 255)),
    %% An X25519 key cannot sign a request: the server's request, with this key put in.
    openssl(Dir, ["genpkey", "-algorithm", "X25519", "-out", "x25519.key"]),
    openssl(Dir, ["pkey", "-in", "x25519.key", "-pubout", "-out", "x25519.pub"]),
    openssl(Dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                  "-force_pubkey", "x25519.pub", "-days", "3650", "-out", "x25519.pem"]),
    #{dir => Dir, password => ?PASSWORD}.

-spec path(#{atom() => term()}, string()) -> string().
path(#{dir := Dir}, File) ->
    filename:join(Dir, File).

%% The DER bytes of the first certificate of a PEM file.
-spec der(#{atom() => term()}, string()) -> binary().
der(Certs, File) ->
    {ok, Pem} = file:read_file(path(Certs, File)),
    [{'Certificate', Der, not_encrypted} | _] = public_key:pem_decode(Pem),
    Der.

%% Writes Name's PKI made by pkix_test_data/1 with Opts (its root, intermediates and peers
%% each get them; [] keeps every default) into Dir: `Name-server.pem' and `Name-client.pem'
%% (the leaf, then its intermediates), their keys `Name-server.key', `Name-client.key', and
%% `Name-ca.pem' (both roots). Returns #{ca => CaFile, server => Options, client => Options}
%% (certfile and keyfile), or what pkix_test_data/1 raised.
pkix_test_data(Dir, Name, #{opts := Opts, intermediates := N}) ->
    Chain = #{root => Opts, intermediates => lists:duplicate(N, Opts), peer => Opts},
    try public_key:pkix_test_data(#{server_chain => Chain, client_chain => Chain}) of
        #{server_config := Server, client_config := Client} ->
            File = fun(Suffix) -> filename:join(Dir, Name ++ Suffix) end,
            Roots = [D || D <- proplists:get_value(cacerts, Server) ++ proplists:get_value(cacerts, Client),
                          public_key:pkix_is_self_signed(D)],
            ok = pem(File("-ca.pem"), [{'Certificate', D, not_encrypted} || D <- lists:usort(Roots)]),
            lists:foreach(fun({Role, Config}) -> write_peer(File, Role, Config) end,
                          [{"-server", Server}, {"-client", Client}]),
            Files = fun(Role) -> [{certfile, File(Role ++ ".pem")}, {keyfile, File(Role ++ ".key")}] end,
            #{ca => File("-ca.pem"), server => Files("-server"), client => Files("-client")}
    catch
        Class:Reason -> {not_made, Class, Reason}
    end.

%% The peer's certificate, then the intermediates that issued it (those of its own cacerts that
%% are not self-signed and not the other side's), nearest first.
write_peer(File, Role, Config) ->
    Cert = proplists:get_value(cert, Config),
    {KeyType, Key} = proplists:get_value(key, Config),
    Chain = issuers(Cert, [D || D <- proplists:get_value(cacerts, Config),
                                not public_key:pkix_is_self_signed(D)]),
    ok = pem(File(Role ++ ".pem"), [{'Certificate', D, not_encrypted} || D <- [Cert | Chain]]),
    ok = pem(File(Role ++ ".key"), [{KeyType, Key, not_encrypted}]).

issuers(Cert, Candidates) ->
    case [C || C <- Candidates, public_key:pkix_is_issuer(Cert, C)] of
        [Issuer | _] -> [Issuer | issuers(Issuer, Candidates -- [Issuer])];
        [] -> []
    end.

pem(File, Entries) ->
    file:write_file(File, public_key:pem_encode(Entries)).

make_cert(Dir, Name, root) ->
    self_signed(Dir, Name, "ca_ext", "sha256");
make_cert(Dir, Name, {root, Digest}) ->
    self_signed(Dir, Name, "ca_ext", Digest);
make_cert(Dir, Name, self_signed) ->
    self_signed(Dir, Name, "leaf", "sha256");
make_cert(Dir, Name, {signed, Issuer, Extensions, Validity}) ->
    make_cert(Dir, Name, {signed, Issuer, Extensions, Validity, "sha256"});
make_cert(Dir, Name, {signed, Issuer, Extensions, Validity, Digest}) ->
    N = atom_to_list(Name),
    I = atom_to_list(Issuer),
    new_key(Dir, N),
    openssl(Dir, ["req", "-new", "-key", N ++ ".key", "-subj", subject(N), "-out", N ++ ".csr"]),
    Dates = case Validity of
                now -> ["-days", "3650"];
                {From, To} -> ["-startdate", From, "-enddate", To]
            end,
    openssl(Dir, ["ca", "-batch", "-config", "openssl.cnf", "-notext", "-rand_serial",
                  "-cert", I ++ ".pem", "-keyfile", I ++ ".key", "-in", N ++ ".csr",
                  "-md", Digest, "-out", N ++ ".pem", "-extensions", atom_to_list(Extensions)
                  | Dates]).

self_signed(Dir, Name, Extensions, Digest) ->
    N = atom_to_list(Name),
    new_key(Dir, N),
    openssl(Dir, ["req", "-x509", "-new", "-key", N ++ ".key", "-" ++ Digest, "-subj", subject(N),
                  "-days", "3650", "-config", "openssl.cnf", "-extensions", Extensions,
                  "-out", N ++ ".pem"]).

new_key(Dir, N) ->
    openssl(Dir, ["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", N ++ ".key"]).

subject(N) ->
    "/O=ts_ssl tests/CN=" ++ N.

config(Dir) ->
    ["[ca]\ndefault_ca = test_ca\n"
     "[test_ca]\n"
     "database = ", Dir, "/index.txt\n"
     "new_certs_dir = ", Dir, "/issued\n"
     "serial = ", Dir, "/serial\n"
     "default_md = sha256\npolicy = any_name\nunique_subject = no\n"
     "[any_name]\ncommonName = supplied\norganizationName = optional\n"
     "[req]\ndistinguished_name = dn\n[dn]\n"
     "[leaf]\nbasicConstraints = critical,CA:false\n"
     "keyUsage = digitalSignature,keyEncipherment,keyAgreement\n"
     "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
     "[client_auth_leaf]\nbasicConstraints = critical,CA:false\n"
     "keyUsage = digitalSignature,keyEncipherment,keyAgreement\n"
     "extendedKeyUsage = clientAuth\n"
     "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
     "[ca_ext]\nbasicConstraints = critical,CA:true\nkeyUsage = keyCertSign,cRLSign\n"
     "subjectKeyIdentifier = hash\n"].

concat(Dir, Out, Files) ->
    Contents = [begin {ok, B} = file:read_file(filename:join(Dir, F)), B end || F <- Files],
    file:write_file(filename:join(Dir, Out), Contents).

write(Dir, File, Contents) ->
    file:write_file(filename:join(Dir, File), Contents).

%% Runs openssl in Dir; a failure stops the suite with openssl's own words.
openssl(Dir, Args) ->
    Port = open_port({spawn_executable, os:find_executable("openssl")},
                     [{args, Args}, {cd, Dir}, exit_status, stderr_to_stdout, binary]),
    case collect(Port, []) of
        {0, _} -> ok;
        {Status, Output} -> error({openssl_failed, Args, Status, binary_to_list(Output)})
    end.

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, [Acc, Data]);
        {Port, {exit_status, Status}} -> {Status, iolist_to_binary(Acc)}
    end.
