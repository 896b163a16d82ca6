%% Connecting and accepting with OTP 25's API: the handshake forms, timeouts, refusals.
-module(md_connect).

-include("conf.hrl").

-export([handshake_1/1, handshake_2_timeout/1, handshake_3_no_options/1, handshake_3_alpn/1,
         handshake_3_certificate/1, handshake_3_socket_options/1, handshake_2_options/1,
         handshake_3_bad_options/1,
         connect_3_and_4/1, connect_refused/1, connect_nxdomain/1, connect_timeout/1,
         handshake_timeout/1, transport_accept_timeout/1, transport_accept_after_close/1,
         handshake_with_plain_tcp_client/1, connect_to_plain_tcp_server/1,
         listen_without_options/1, listen_port_in_use/1, sockname_and_peername/1,
         connect_by_ip_tuple/1]).

%% The User's Guide's server: listen, transport_accept, handshake in the acceptor; a client
%% connects, both send and receive.
handshake_1(#{mod := M} = C) ->
    {ok, L} = ?note(listen, M:listen(0, conf:server(C) ++ [binary, {active, false}, {reuseaddr, true}])),
    Server = conf:async(fun() ->
                                {ok, T} = M:transport_accept(L),
                                {ok, S} = M:handshake(T),
                                {ok, Ping} = M:recv(S, 4),
                                ok = M:send(S, "pong"),
                                {T =:= S, Ping}
                        end),
    {ok, Client} = ?note(connect, M:connect("localhost", conf:port(M, L), [binary, {active, false}])),
    ?note(send, M:send(Client, "ping")),
    ?note(recv, M:recv(Client, 4)),
    ?note(server, conf:await(Server)).

handshake_2_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    {ok, T} = ?note(transport_accept, M:transport_accept(L, ?WAIT)),
    {ok, S} = ?note(handshake, M:handshake(T, ?WAIT)),
    {ok, Cs} = ?note(connect, conf:await(Client)),
    ?note(send, M:send(S, "hello")),
    ?note(recv, M:recv(Cs, 0, ?WAIT)).

%% handshake/3's TLS options are this connection's, over the listen socket's (ALPN, a certificate
%% of its own); socket options given there are left unread; a bad option fails the handshake.
handshake_3_alpn(#{mod := M} = C) ->
    {Server, Client} = handshake_3(C, [{alpn_preferred_protocols, [<<"h2">>]}],
                                   [{alpn_advertised_protocols, [<<"http/1.1">>, <<"h2">>]}]),
    ?note(server, M:negotiated_protocol(Server)),
    ?note(client, ssl:negotiated_protocol(Client)).

handshake_3_certificate(C) ->
    {_Server, Client} = handshake_3(C, conf:server(C, "client"), []),
    {ok, Der} = ssl:peercert(Client),
    {ok, Pem} = file:read_file(conf:file(C, "client.pem")),
    [{'Certificate', Client1, _} | _] = public_key:pem_decode(Pem),
    ?note(is_the_connections, Der =:= Client1).

handshake_3_socket_options(#{mod := M} = C) ->
    {Server, Client} = handshake_3(C, [binary, {packet, 2}, {active, once}], [{packet, 2}]),
    ?note(getopts, M:getopts(Server, [mode, packet, active])),
    ok = ssl:send(Client, <<"framed">>),
    ?note(message, conf:next(Server)).

handshake_2_options(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    Client = conf:connecting(ssl, "localhost", conf:port(M, L),
                             [{verify, verify_none}, {alpn_advertised_protocols, [<<"h2">>]}]),
    {ok, T} = M:transport_accept(L, ?WAIT),
    {ok, S} = ?note(handshake, M:handshake(T, [{alpn_preferred_protocols, [<<"h2">>]}])),
    _ = conf:await(Client),
    ?note(server, M:negotiated_protocol(S)).

handshake_3_bad_options(#{mod := M} = C) ->
    Handshake = fun(Options) ->
                        {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
                        Client = conf:connecting(ssl, "localhost", conf:port(M, L),
                                                 [{verify, verify_none}]),
                        {ok, T} = M:transport_accept(L, ?WAIT),
                        Result = M:handshake(T, Options, ?WAIT),
                        ok = M:close(L),
                        {Result, element(1, conf:await(Client))}
                end,
    ?note(bad_ssl_value, Handshake([{depth, x}])),
    ?note(bad_emulated_value, Handshake([{active, sometimes}])),
    ?note(missing_certfile, Handshake([{certfile, conf:file(C, "no_such_cert.pem")}])),
    ?note(verify_peer_with_listeners_ca, Handshake([{verify, verify_peer}])).

%% An accepted connection whose handshake/3 gets Options, and a native client given ClientOptions.
handshake_3(#{mod := M} = C, Options, ClientOptions) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {active, false} | conf:server(C)] ++ conf:ca(C)),
    Client = conf:connecting(ssl, "localhost", conf:port(M, L), [{verify, verify_none} | ClientOptions]),
    {ok, T} = M:transport_accept(L, ?WAIT),
    {ok, S} = ?note(handshake, M:handshake(T, Options, ?WAIT)),
    {ok, Cs} = conf:await(Client),
    {S, Cs}.

handshake_3_no_options(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    {ok, T} = M:transport_accept(L, ?WAIT),
    ?note(handshake, M:handshake(T, [], ?WAIT)),
    ?note(connect, element(1, conf:await(Client))).

connect_3_and_4(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Port = conf:port(M, L),
    Accepting = conf:async(fun() -> [accept(M, L), accept(M, L)] end),
    {ok, A} = ?note(connect_3, M:connect("localhost", Port, [{active, false}])),
    {ok, B} = ?note(connect_4, M:connect("localhost", Port, [{active, false}], ?WAIT)),
    ?note(accepted, conf:await(Accepting)),
    ?note(close, {M:close(A), M:close(B)}).

accept(M, L) ->
    {ok, T} = M:transport_accept(L, ?WAIT),
    element(1, M:handshake(T, ?WAIT)).

connect_refused(#{mod := M}) ->
    {L, Port} = conf:tcp_listen(),
    ok = gen_tcp:close(L),
    ?note(connect, M:connect("localhost", Port, [], ?WAIT)).

connect_nxdomain(#{mod := M}) ->
    ?note(connect, M:connect("no-such-host.invalid", 443, [], ?WAIT)).

%% A TCP server that never answers the ClientHello.
connect_timeout(#{mod := M}) ->
    {_L, Port} = conf:tcp_listen(),
    ?note(connect, M:connect("localhost", Port, [], 300)).

%% A TCP client that never sends its ClientHello.
handshake_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    _Tcp = conf:tcp_connect(conf:port(M, L)),
    {ok, T} = ?note(transport_accept, M:transport_accept(L, ?WAIT)),
    ?note(handshake, M:handshake(T, 300)).

transport_accept_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(transport_accept, M:transport_accept(L, 200)).

transport_accept_after_close(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Waiting = conf:async(fun() -> M:transport_accept(L, ?WAIT) end),
    conf:pause(),
    ?note(close, M:close(L)),
    ?note(transport_accept, conf:await(Waiting)).

%% What is not TLS: the server's handshake fails with the alert it sends.
handshake_with_plain_tcp_client(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Tcp = conf:tcp_connect(conf:port(M, L)),
    ok = gen_tcp:send(Tcp, <<"GET / HTTP/1.0\r\n\r\n">>),
    {ok, T} = M:transport_accept(L, ?WAIT),
    ?note(handshake, M:handshake(T, ?WAIT)).

connect_to_plain_tcp_server(#{mod := M}) ->
    {L, Port} = conf:tcp_listen(),
    Server = conf:async(fun() ->
                                S = conf:tcp_accept(L),
                                {ok, _Hello} = gen_tcp:recv(S, 0, ?WAIT),
                                gen_tcp:send(S, <<"HTTP/1.0 400 Bad Request\r\n\r\n">>)
                        end),
    ?note(connect, M:connect("localhost", Port, [], ?WAIT)),
    ?note(server, conf:await(Server)).

listen_without_options(#{mod := M}) ->
    ?note(listen, M:listen(0, [])).

listen_port_in_use(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    ?note(listen, M:listen(conf:port(M, L), [{ip, conf:loopback()} | conf:server(C)])).

sockname_and_peername(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    {ok, {_, ClientPort}} = ?note(client_sockname, M:sockname(Client)),
    {ok, {_, PeerPort}} = ?note(server_peername, M:peername(Server)),
    ?note(same_port, ClientPort =:= PeerPort).

connect_by_ip_tuple(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    Accepting = conf:async(fun() -> accept(M, L) end),
    ?note(connect, element(1, M:connect(conf:loopback(), conf:port(M, L), [], ?WAIT))),
    ?note(accepted, conf:await(Accepting)).
