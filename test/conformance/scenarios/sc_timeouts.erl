%% Every call with a Timeout argument, timing out; and that nothing is lost by it.
-module(sc_timeouts).

-include("conf.hrl").

-export([transport_accept_timeout/1, accept_timeout/1, ssl_accept_timeout/1,
         connect_timeout/1, recv_timeout_then_data/1, recv_timeout_zero/1,
         explicit_infinity/1, longest_recv/1, longest_transport_accept/1, longest_accept/1,
         longest_ssl_accept/1, longest_connect/1]).

%% The longest timeout Erlang takes, 2^32 - 1 ms (about 49.7 days). Such a call must wait as
%% gen_tcp's does: each scenario shows it still waiting after a while, then answered.
-define(LONGEST, 4294967295).

transport_accept_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(transport_accept, M:transport_accept(L, 50)),
    %% The listen socket is still good for a client that comes later.
    Client = conf:connecting(M, "localhost", conf:port(M, L), []),
    ?note(accept_after, M:accept(L, ?WAIT)),
    ?note(connect, conf:await(Client)).

accept_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(accept, M:accept(L, 50)).

%% A TCP client that never starts its handshake.
ssl_accept_timeout(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    _Silent = conf:tcp_connect(conf:port(M, L)),
    {ok, S} = ?note(transport_accept, M:transport_accept(L, ?WAIT)),
    ?note(ssl_accept, M:ssl_accept(S, 50)).

%% A TCP server that never answers the handshake.
connect_timeout(#{mod := M}) ->
    {_Listen, Port} = conf:tcp_listen(),
    ?note(connect, M:connect("localhost", Port, [], 100)).

recv_timeout_then_data(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(recv, M:recv(Server, 0, 50)),
    ?note(send, M:send(Client, "late")),
    ?note(recv_again, M:recv(Server, 0, ?WAIT)).

recv_timeout_zero(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ?note(recv, M:recv(Server, 0, 0)),
    ok = M:send(Client, "x"),
    ?note(recv_with_data, M:recv(Server, 1, ?WAIT)).

%% `infinity' is the default, and may be written.
explicit_infinity(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    {ok, S} = ?note(transport_accept, M:transport_accept(L, infinity)),
    ?note(ssl_accept, M:ssl_accept(S, infinity)),
    {ok, Cs} = ?note(connect, conf:await(Client)),
    ok = M:send(S, "x"),
    ?note(recv, M:recv(Cs, 0, infinity)).

longest_recv(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    {TcpClient, TcpServer} = conf:tcp_pair(),
    Recv = conf:async(fun() -> M:recv(Server, 0, ?LONGEST) end),
    TcpRecv = conf:async(fun() -> gen_tcp:recv(TcpServer, 0, ?LONGEST) end),
    conf:pause(),
    ?note(recv_waits, conf:still_waiting(Recv)),
    ?note(gen_tcp_recv_waits, conf:still_waiting(TcpRecv)),
    ok = M:send(Client, "late"),
    ok = gen_tcp:send(TcpClient, "late"),
    ?note(recv, conf:await(Recv)),
    ?note(gen_tcp_recv, conf:await(TcpRecv)),
    %% Waiting again, and cut by the peer's close.
    Again = conf:async(fun() -> M:recv(Server, 0, ?LONGEST) end),
    TcpAgain = conf:async(fun() -> gen_tcp:recv(TcpServer, 0, ?LONGEST) end),
    conf:pause(),
    ?note(recv_again_waits, conf:still_waiting(Again)),
    ok = M:close(Client),
    ok = gen_tcp:close(TcpClient),
    ?note(recv_again, conf:await(Again)),
    ?note(gen_tcp_recv_again, conf:await(TcpAgain)).

longest_transport_accept(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    {TcpListen, TcpPort} = conf:tcp_listen(),
    Accept = conf:owned(M, fun() -> M:transport_accept(L, ?LONGEST) end),
    TcpAccept = conf:async(fun() -> gen_tcp:accept(TcpListen, ?LONGEST) end),
    conf:pause(),
    ?note(transport_accept_waits, conf:still_waiting(Accept)),
    ?note(gen_tcp_accept_waits, conf:still_waiting(TcpAccept)),
    _ = conf:tcp_connect(conf:port(M, L)),
    _ = conf:tcp_connect(TcpPort),
    {ok, _} = ?note(transport_accept, conf:await(Accept)),
    ?note(gen_tcp_accept, element(1, conf:await(TcpAccept))).

longest_accept(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Accept = conf:owned(M, fun() -> M:accept(L, ?LONGEST) end),
    conf:pause(),
    ?note(accept_waits, conf:still_waiting(Accept)),
    Client = conf:connecting(M, "localhost", conf:port(M, L), []),
    ?note(accept, conf:await(Accept)),
    ?note(connect, conf:await(Client)).

%% The client's TCP connection is made first and its TLS handshake started later (by OTP's ssl
%% on that same connection), so that ssl_accept has nothing to answer for a while.
longest_ssl_accept(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Tcp = conf:tcp_connect(conf:port(M, L)),
    {ok, S} = M:transport_accept(L, ?WAIT),
    Accept = conf:async(fun() -> M:ssl_accept(S, ?LONGEST) end),
    conf:pause(),
    ?note(ssl_accept_waits, conf:still_waiting(Accept)),
    {ok, _} = ?note(client_handshake, ssl:connect(Tcp, [{verify, verify_none}], ?WAIT)),
    ?note(ssl_accept, conf:await(Accept)).

%% A server (OTP's ssl) that takes the connection only after a while.
longest_connect(#{mod := M} = C) ->
    {Listen, Port} = conf:peer_listen(C, conf:server(C)),
    Connect = conf:owned(M, fun() -> M:connect("localhost", Port, [], ?LONGEST) end),
    conf:pause(),
    ?note(connect_waits, conf:still_waiting(Connect)),
    {ok, _} = ?note(peer_accept, conf:await(conf:peer_accept(Listen))),
    ?note(connect, conf:await(Connect)).
