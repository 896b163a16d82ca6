%% Verifying the peer's certificate: {verify, 0 | 1 | 2} and {depth, N} of the manual, against
%% servers and clients presenting the certificates of ts_ssl_certs.
-module(sc_verify).

-include("conf.hrl").

-export([verify_0_accepts_anything/1, verify_1_trusted/1, verify_1_expired/1,
         verify_1_not_yet_valid/1, verify_1_self_signed/1, verify_1_unknown_issuer/1,
         verify_1_self_signed_in_chain/1, verify_1_without_cacertfile/1,
         depth_1_intermediate/1, depth_1_chain_too_long/1, depth_2_longer_chain/1,
         verify_2_client_certificate/1, verify_2_client_without_certificate/1,
         verify_1_client_without_certificate/1, verify_1_untrusted_client/1,
         server_wants_a_certificate/1,
         peercert_is_der/1, peercert_without_peer_certificate/1, connection_info/1]).

%% M connects, with Options, to the fixed peer serving Name's certificate (and ChainFile's
%% certificates after it).
connect_to(#{mod := M} = C, Name, ChainFile, Options) ->
    {L, Port} = conf:peer_listen(C, [{certfile, conf:file(C, Name ++ ".pem")},
                                     {keyfile, conf:file(C, Name ++ ".key")},
                                     {cacertfile, conf:file(C, ChainFile)}]),
    Peer = conf:peer_accept(L),
    ?note(connect, M:connect("localhost", Port, Options, ?WAIT)),
    %% A client that never connected leaves the peer waiting in transport_accept: end that.
    ok = ssl:close(L),
    ?note(peer, case conf:await(Peer) of
                    {ok, _} -> accepted;
                    Refused -> Refused
                end).

verify_1(C) ->
    [{verify, 1} | conf:ca(C)].

verify_0_accepts_anything(C) ->
    connect_to(C, "self_signed", "self_signed.pem", [{verify, 0}]),
    connect_to(C, "expired", "expired.pem", []).

verify_1_trusted(C) ->
    connect_to(C, "server", "server.pem", verify_1(C)).

verify_1_expired(C) ->
    connect_to(C, "expired", "expired.pem", verify_1(C)).

verify_1_not_yet_valid(C) ->
    connect_to(C, "not_yet_valid", "not_yet_valid.pem", verify_1(C)).

verify_1_self_signed(C) ->
    connect_to(C, "self_signed", "self_signed.pem", verify_1(C)).

verify_1_unknown_issuer(C) ->
    connect_to(C, "stranger", "stranger.pem", verify_1(C)).

verify_1_self_signed_in_chain(C) ->
    connect_to(C, "stranger", "stranger_bundle.pem", verify_1(C)).

verify_1_without_cacertfile(C) ->
    connect_to(C, "server", "server.pem", [{verify, 1}]).

%% The manual's depth: peer 0, its CA 1, a higher CA 2. Default 1.
depth_1_intermediate(C) ->
    connect_to(C, "short_chain", "short_chain_bundle.pem", verify_1(C)).

depth_1_chain_too_long(C) ->
    connect_to(C, "long_chain", "long_chain_bundle.pem", verify_1(C)).

depth_2_longer_chain(C) ->
    connect_to(C, "long_chain", "long_chain_bundle.pem", [{depth, 2} | verify_1(C)]).

%% M serves with ServerOptions; the fixed peer connects with ClientOptions, in TLS 1.2 so that a
%% refusal comes within the handshake (in TLS 1.3 it comes after, and OTP's client reports it
%% sometimes as the alert, sometimes as closed), and then reads.
%% The peer stays connected until the scenario ends.
accept_from(#{mod := M} = C, ServerOptions, ClientOptions) ->
    {ok, L} = M:listen(0, conf:server(C) ++ ServerOptions),
    Port = conf:port(M, L),
    Parent = self(),
    _ = spawn_link(fun() ->
                           case ssl:connect(conf:loopback(), Port,
                                            [binary, {active, false}, {verify, verify_none},
                                             {versions, ['tlsv1.2']} | ClientOptions], ?WAIT) of
                               {ok, P} ->
                                   Parent ! {peer, {connected, ssl:recv(P, 0, 500)}},
                                   receive never -> ok end;
                               Refused ->
                                   Parent ! {peer, Refused}
                           end
                   end),
    Accepted = ?note(accept, M:accept(L, ?WAIT)),
    ?note(peer, receive {peer, Peer} -> Peer after ?WAIT -> no_answer end),
    Accepted.

verify_2_client_certificate(#{mod := M} = C) ->
    {ok, S} = accept_from(C, [{verify, 2} | conf:ca(C)], conf:client(C)),
    {ok, Der} = ?note(peercert, M:peercert(S)),
    ?note(is_the_client, Der =:= ts_ssl_certs:der(maps:get(certs, C), "client.pem")).

verify_2_client_without_certificate(C) ->
    _ = accept_from(C, [{verify, 2} | conf:ca(C)], []),
    ok.

verify_1_client_without_certificate(#{mod := M} = C) ->
    {ok, S} = accept_from(C, verify_1(C), []),
    ?note(peercert, M:peercert(S)).

verify_1_untrusted_client(C) ->
    _ = accept_from(C, verify_1(C), [{certfile, conf:file(C, "stranger.pem")},
                                     {keyfile, conf:file(C, "stranger.key")}]),
    ok.

%% The client under test has no certificate for a server that requires one: the server's alert
%% ends the handshake. (TLS 1.2: in TLS 1.3 the alert comes after connect/3 has returned, and
%% OTP's client then says sometimes the alert, sometimes closed.)
server_wants_a_certificate(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, [{verify, verify_peer}, {fail_if_no_peer_cert, true},
                                     {versions, ['tlsv1.2']} | conf:ca(C) ++ conf:server(C)]),
    _ = conf:peer_accept(L),
    ?note(connect, M:connect("localhost", Port, [{active, false}], ?WAIT)).

peercert_is_der(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    {ok, Der} = ?note(peercert, M:peercert(Client)),
    ?note(is_the_server, Der =:= ts_ssl_certs:der(maps:get(certs, C), "server.pem")).

peercert_without_peer_certificate(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, []),
    ?note(peercert, M:peercert(Server)).

%% Protocol and cipher, the same seen from both ends.
connection_info(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    ?note(client, M:connection_info(Client)),
    ?note(both_ends_agree, M:connection_info(Client) =:= M:connection_info(Server)).
