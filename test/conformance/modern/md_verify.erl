%% Verifying the peer with OTP 25's options: verify_peer with cacertfile or cacerts, the
%% reasons of an untrusted chain, depth, host name verification, client certificates.
-module(md_verify).

-include("conf.hrl").

-export([verify_none_accepts_self_signed/1, verify_peer_trusted/1, verify_peer_cacerts_der/1,
         verify_peer_unknown_ca/1, verify_peer_expired/1, verify_peer_not_yet_valid/1,
         verify_peer_self_signed/1, verify_peer_self_signed_in_chain/1,
         verify_peer_without_cacerts/1, depth_0_intermediate/1, depth_default_long_chain/1,
         depth_1_long_chain/1, hostname_mismatch/1, hostname_by_ip_tuple/1,
         hostname_by_ip_string/1, hostname_customized/1, hostname_sni_disabled/1,
         verify_none_ignores_hostname/1, client_certificate_required/1,
         client_certificate_missing/1, client_certificate_optional/1,
         client_certificate_untrusted/1, peercert_is_the_servers/1, der_cert_and_key/1,
         password_protected_key/1, pkix_test_data_both_ends/1,
         client_certificate_missing_tls13/1, client_certificate_untrusted_tls13/1]).

%% M connects with Options to the fixed peer (OTP's ssl) serving Name's certificate, with
%% ChainFile's certificates after it.
connect_to(#{mod := M} = C, Host, Name, ChainFile, Options) ->
    {L, Port} = conf:peer_listen(C, [{certfile, conf:file(C, Name ++ ".pem")},
                                     {keyfile, conf:file(C, Name ++ ".key")},
                                     {cacertfile, conf:file(C, ChainFile)}]),
    Peer = conf:peer_accept(L),
    Result = ?note(connect, M:connect(Host, Port, Options, ?WAIT)),
    ok = ssl:close(L),
    _ = conf:await(Peer),
    Result.

connect_to(C, Name, ChainFile, Options) ->
    connect_to(C, "localhost", Name, ChainFile, Options).

verify_peer(C) ->
    [{verify, verify_peer} | conf:ca(C)].

der(C, File) ->
    {ok, Pem} = file:read_file(conf:file(C, File)),
    [Der || {'Certificate', Der, not_encrypted} <- public_key:pem_decode(Pem)].

verify_none_accepts_self_signed(C) ->
    connect_to(C, "self_signed", "self_signed.pem", [{verify, verify_none}]).

verify_peer_trusted(C) ->
    connect_to(C, "server", "server.pem", verify_peer(C)).

verify_peer_cacerts_der(C) ->
    connect_to(C, "server", "server.pem", [{verify, verify_peer}, {cacerts, der(C, "ca.pem")}]).

verify_peer_unknown_ca(C) ->
    connect_to(C, "stranger", "stranger.pem", verify_peer(C)).

verify_peer_expired(C) ->
    connect_to(C, "expired", "expired.pem", verify_peer(C)).

verify_peer_not_yet_valid(C) ->
    connect_to(C, "not_yet_valid", "not_yet_valid.pem", verify_peer(C)).

verify_peer_self_signed(C) ->
    connect_to(C, "self_signed", "self_signed.pem", verify_peer(C)).

verify_peer_self_signed_in_chain(C) ->
    connect_to(C, "stranger", "stranger_bundle.pem", verify_peer(C)).

verify_peer_without_cacerts(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{verify, verify_peer}], ?WAIT)).

%% depth: peer 0, its CA 1, a higher CA 2; OTP's default is 10.
depth_0_intermediate(C) ->
    connect_to(C, "short_chain", "short_chain_bundle.pem", [{depth, 0} | verify_peer(C)]).

depth_default_long_chain(C) ->
    connect_to(C, "long_chain", "long_chain_bundle.pem", verify_peer(C)).

depth_1_long_chain(C) ->
    connect_to(C, "long_chain", "long_chain_bundle.pem", [{depth, 1} | verify_peer(C)]).

%% The server's certificate is for localhost and 127.0.0.1.
hostname_mismatch(C) ->
    connect_to(C, "server", "server.pem",
               [{server_name_indication, "elsewhere.example"} | verify_peer(C)]).

hostname_by_ip_tuple(C) ->
    connect_to(C, conf:loopback(), "server", "server.pem", verify_peer(C)).

hostname_by_ip_string(C) ->
    connect_to(C, "127.0.0.1", "server", "server.pem", verify_peer(C)).

hostname_customized(C) ->
    Anything = [{match_fun, fun(_Reference, _Presented) -> true end}],
    connect_to(C, "server", "server.pem",
               [{server_name_indication, "elsewhere.example"},
                {customize_hostname_check, Anything} | verify_peer(C)]).

hostname_sni_disabled(C) ->
    connect_to(C, "server", "server.pem", [{server_name_indication, disable} | verify_peer(C)]).

verify_none_ignores_hostname(C) ->
    connect_to(C, "server", "server.pem",
               [{server_name_indication, "elsewhere.example"}, {verify, verify_none}]).

%% M serves with ServerOptions; OTP's ssl connects with ClientOptions over TLS 1.2, so that a
%% refusal comes within the handshake, and reads.
accept_from(#{mod := M} = C, ServerOptions, ClientOptions) ->
    {ok, L} = M:listen(0, conf:server(C) ++ ServerOptions),
    Port = conf:port(M, L),
    Parent = self(),
    _ = spawn_link(fun() ->
                           case ssl:connect(conf:loopback(), Port,
                                            [binary, {active, false}, {verify, verify_none},
                                             {versions, ['tlsv1.2']} | ClientOptions], ?WAIT) of
                               {ok, _P} ->
                                   Parent ! {peer, connected},
                                   receive never -> ok end;
                               Refused ->
                                   Parent ! {peer, Refused}
                           end
                   end),
    {ok, T} = M:transport_accept(L, ?WAIT),
    Accepted = ?note(handshake, M:handshake(T, ?WAIT)),
    ?note(peer, receive {peer, Peer} -> Peer after ?WAIT -> no_answer end),
    Accepted.

require_client(C) ->
    [{verify, verify_peer}, {fail_if_no_peer_cert, true} | conf:ca(C)].

client_certificate_required(#{mod := M} = C) ->
    {ok, S} = accept_from(C, require_client(C), conf:client(C)),
    {ok, Der} = M:peercert(S),
    ?note(is_the_client, Der =:= ts_ssl_certs:der(maps:get(certs, C), "client.pem")).

client_certificate_missing(C) ->
    _ = accept_from(C, require_client(C), []),
    ok.

client_certificate_optional(#{mod := M} = C) ->
    {ok, S} = accept_from(C, [{verify, verify_peer} | conf:ca(C)], []),
    ?note(peercert, M:peercert(S)).

client_certificate_untrusted(C) ->
    _ = accept_from(C, require_client(C), [{certfile, conf:file(C, "stranger.pem")},
                                           {keyfile, conf:file(C, "stranger.key")}]),
    ok.

peercert_is_the_servers(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    {ok, Der} = M:peercert(Client),
    ?note(is_the_server, Der =:= ts_ssl_certs:der(maps:get(certs, C), "server.pem")).

%% M listens with ListenOptions (no certificate files of its own) and connects to itself.
serve_and_connect(#{mod := M}, ListenOptions, ConnectOptions) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {active, false} | ListenOptions]),
    Accepting = conf:async(fun() ->
                                   {ok, T} = M:transport_accept(L, ?WAIT),
                                   element(1, M:handshake(T, ?WAIT))
                           end),
    ?note(connect, element(1, M:connect("localhost", conf:port(M, L), ConnectOptions, ?WAIT))),
    ?note(accepted, conf:await(Accepting)).

%% cert, key and cacerts as DER.
der_cert_and_key(C) ->
    {ok, KeyPem} = file:read_file(conf:file(C, "server.key")),
    [{KeyType, KeyDer, not_encrypted}] = public_key:pem_decode(KeyPem),
    serve_and_connect(C, [{cert, hd(der(C, "server.pem"))}, {key, {KeyType, KeyDer}}],
                      [{verify, verify_peer}, {cacerts, der(C, "ca.pem")}]).

password_protected_key(C) ->
    serve_and_connect(C, [{certfile, conf:file(C, "server.pem")},
                          {keyfile, conf:file(C, "server_encrypted.key")},
                          {password, conf:password(C)}],
                      verify_peer(C)).

%% Certificates from public_key:pkix_test_data/1, as DER options on both ends, each verifying
%% the other. Its defaults but for P-256 keys and SHA-256 signatures: its default curve
%% (secp160k1) is not one TLS 1.3 signs with, and OpenSSL refuses its default digest (SHA-1).
pkix_test_data_both_ends(#{mod := M}) ->
    Key = [{key, {namedCurve, secp256r1}}, {digest, sha256}],
    Chain = #{root => Key, intermediates => [Key], peer => Key},
    #{server_config := Server, client_config := Client} =
        public_key:pkix_test_data(#{server_chain => Chain, client_chain => Chain}),
    {ok, L} = ?note(listen, M:listen(0, [{ip, conf:loopback()}, {verify, verify_peer},
                                         {fail_if_no_peer_cert, true} | Server])),
    Accepting = conf:async(fun() ->
                                   {ok, T} = M:transport_accept(L, ?WAIT),
                                   element(1, M:handshake(T, ?WAIT))
                           end),
    Host = net_adm:localhost(),
    ?note(connect, element(1, M:connect("localhost", conf:port(M, L),
                                        [{verify, verify_peer},
                                         {server_name_indication, Host} | Client], ?WAIT))),
    ?note(accepted, conf:await(Accepting)).

%% M serves TLS 1.3 with ServerOptions; OTP's ssl connects with ClientOptions and then waits.
%% Only the server's result is noted: in TLS 1.3 the client's connect returns before the server
%% has judged its certificate, and what it sees next depends on timing.
handshake_tls13(#{mod := M} = C, ServerOptions, ClientOptions) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{versions, ['tlsv1.3']} | ServerOptions]),
    Port = conf:port(M, L),
    _ = spawn_link(fun() ->
                           _ = ssl:connect(conf:loopback(), Port,
                                           [{active, false}, {verify, verify_none} | ClientOptions],
                                           ?WAIT),
                           receive never -> ok end
                   end),
    {ok, T} = M:transport_accept(L, ?WAIT),
    ?note(handshake, M:handshake(T, ?WAIT)).

client_certificate_missing_tls13(C) ->
    handshake_tls13(C, require_client(C), []).

client_certificate_untrusted_tls13(C) ->
    handshake_tls13(C, require_client(C), [{certfile, conf:file(C, "stranger.pem")},
                                           {keyfile, conf:file(C, "stranger.key")}]).
