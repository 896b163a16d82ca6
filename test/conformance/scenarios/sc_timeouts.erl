%% Every call with a Timeout argument, timing out; and that nothing is lost by it.
-module(sc_timeouts).

-include("conf.hrl").

-export([transport_accept_timeout/1, accept_timeout/1, ssl_accept_timeout/1,
         connect_timeout/1, recv_timeout_then_data/1, recv_timeout_zero/1,
         explicit_infinity/1]).

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
