%% Certificates signed with SHA-1, as public_key:pkix_test_data/1 makes them by default, in the
%% three roles (server, client with {verify, 2}, server checking a client certificate) and in
%% TLS 1.2 and 1.3 (the fixed peer limited to each); and files a client cannot use.
-module(sc_certs).

-include("conf.hrl").

-export([sha1_server_tls12/1, sha1_server_tls13/1, sha1_client_verify_2_tls12/1,
         sha1_client_verify_2_tls13/1, sha1_client_certificate_tls12/1,
         sha1_client_certificate_tls13/1, pkix_test_data_defaults_tls12/1,
         pkix_test_data_p256/1, connect_with_corrupt_certfile/1,
         connect_with_key_not_matching/1, connect_with_missing_cacertfile/1]).

sha1(C, Name) ->
    conf:server(C, Name).

sha1_ca(C) ->
    [{cacertfile, conf:file(C, "sha1_ca.pem")}].

%% M serves Server's certificate; the fixed peer, limited to Version, verifies it against Ca and
%% sends a line. PeerOptions: the peer's own certificate, for M to check. Returns M's socket.
serve(#{mod := M} = C, Version, Server, Ca, Options, PeerOptions) ->
    {ok, L} = ?note(listen, M:listen(0, [binary, {active, false} | Server ++ Options])),
    Peer = conf:peer_connect(C, conf:port(M, L),
                             [{verify, verify_peer}, {versions, [Version]} | Ca ++ PeerOptions]),
    {ok, S} = ?note(accept, M:accept(L, ?WAIT)),
    {ok, P} = ?note(peer, conf:await(Peer)),
    ok = conf:peer_send(P, "signed with SHA-1"),
    ?note(recv, M:recv(S, 0, ?WAIT)),
    S.

sha1_server_tls12(C) ->
    _ = serve(C, 'tlsv1.2', sha1(C, "sha1_server"), sha1_ca(C), [], []).

sha1_server_tls13(C) ->
    _ = serve(C, 'tlsv1.3', sha1(C, "sha1_server"), sha1_ca(C), [], []).

%% M connects with {verify, 2} to the fixed peer serving a SHA-1 chain, limited to Version.
connect_to(#{mod := M} = C, Version, Server, Ca) ->
    {L, Port} = conf:peer_listen(C, [{versions, [Version]} | Server]),
    Peer = conf:peer_accept(L),
    {ok, S} = ?note(connect, M:connect("localhost", Port, [binary, {active, false}, {verify, 2} | Ca],
                                       ?WAIT)),
    ok = ssl:close(L),
    {ok, P} = ?note(peer, conf:await(Peer)),
    ok = conf:peer_send(P, "signed with SHA-1"),
    ?note(recv, M:recv(S, 0, ?WAIT)).

sha1_client_verify_2_tls12(C) ->
    connect_to(C, 'tlsv1.2', sha1(C, "sha1_server"), sha1_ca(C)).

sha1_client_verify_2_tls13(C) ->
    connect_to(C, 'tlsv1.3', sha1(C, "sha1_server"), sha1_ca(C)).

%% M, with {verify, 2}, checks the fixed peer's SHA-1 client certificate.
client_certificate(#{mod := M} = C, Version) ->
    S = serve(C, Version, sha1(C, "sha1_server"), sha1_ca(C), [{verify, 2} | sha1_ca(C)],
              sha1(C, "sha1_client")),
    {ok, Der} = M:peercert(S),
    ?note(peercert_is_the_client_certificate, Der =:= ts_ssl_certs:der(maps:get(certs, C), "sha1_client.pem")).

sha1_client_certificate_tls12(C) ->
    client_certificate(C, 'tlsv1.2').

sha1_client_certificate_tls13(C) ->
    client_certificate(C, 'tlsv1.3').

%% Certificates from public_key:pkix_test_data/1 made for the scenario: a chain with one
%% intermediate, server and client, each with Opts. Each run has files of its own: OTP's ssl
%% caches a certificate file by its name, and would serve the other run's.
pkix(#{mod := M} = C, Name, Opts) ->
    ts_ssl_certs:pkix_test_data(conf:file(C, ""), Name ++ "_" ++ atom_to_list(M),
                                #{opts => Opts, intermediates => 1}).

%% pkix_test_data/1 with every default: SHA-1, and keys on the first curve crypto lists
%% (secp160k1 on OTP 25, which TLS 1.3 has no signature algorithm for).
pkix_test_data_defaults_tls12(#{mod := M} = C) ->
    #{ca := Ca, server := Server, client := Client} = pkix(C, "pkix_defaults", []),
    {ok, L} = ?note(listen, M:listen(0, [binary, {active, false}, {verify, 2}, {cacertfile, Ca}
                                         | Server])),
    Peer = conf:peer_connect(C, conf:port(M, L), [{versions, ['tlsv1.2']} | Client]),
    {ok, S} = ?note(accept, M:accept(L, ?WAIT)),
    {ok, P} = ?note(peer, conf:await(Peer)),
    ok = conf:peer_send(P, "pkix_test_data"),
    ?note(recv, M:recv(S, 0, ?WAIT)).

%% pkix_test_data/1 with P-256 keys (and its default SHA-1): M connects with {verify, 2}.
pkix_test_data_p256(C) ->
    #{ca := Ca, server := Server} = pkix(C, "pkix_p256", [{key, {namedCurve, secp256r1}}]),
    connect_to(C, 'tlsv1.3', Server, [{cacertfile, Ca}, {server_name_indication, disable}]).

%% Files a client cannot use: what connect says (3.9: the file's reason).
connect_with(#{mod := M} = C, Options) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    _ = conf:peer_accept(L),
    ?note(connect, M:connect("localhost", Port, Options, ?WAIT)),
    ok = ssl:close(L).

connect_with_corrupt_certfile(C) ->
    connect_with(C, [{certfile, conf:file(C, "corrupt.pem")}, {keyfile, conf:file(C, "client.key")}]).

connect_with_key_not_matching(C) ->
    connect_with(C, [{certfile, conf:file(C, "client.pem")}, {keyfile, conf:file(C, "server.key")}]).

connect_with_missing_cacertfile(C) ->
    connect_with(C, [{verify, 2}, {cacertfile, conf:file(C, "missing.pem")}]).
