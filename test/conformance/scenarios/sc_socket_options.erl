%% The gen_tcp options of the socket under the TLS connection: `backlog', and `reuseaddr' and
%% `keepalive' (which ssl 3.9's code took), each seen at work (connections left waiting; a port
%% still held by a connection; the kernel's keepalive timer), with gen_tcp noted beside where it
%% says more.
-module(sc_socket_options).

-include("conf.hrl").

-export([backlog/1, reuseaddr/1, keepalive/1]).

%% {backlog, 1} and nobody accepting: ten TCP connects one after the other. The listen queue
%% keeps some (Linux: backlog + 1), which are accepted later; the others are not kept.
backlog(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {backlog, 1} | conf:server(C)]),
    ?note(connects, connects(conf:port(M, L), 10)),
    ?note(accepted, [element(1, M:transport_accept(L, ?WAIT)) || _ <- [1, 2]]),
    ?note(no_more, M:transport_accept(L, 100)),
    {TcpListen, TcpPort} = conf:tcp_listen([{backlog, 1}]),
    ?note(gen_tcp_connects, connects(TcpPort, 10)),
    ok = gen_tcp:close(TcpListen).

%% How many of N connects were kept (connected, and still open a moment later), reset (connected,
%% then closed by the server) or left waiting (timeout: the kernel answers a SYN it dropped for a
%% full queue only by the client's retry, a second later). The sockets stay open meanwhile.
connects(Port, N) ->
    Results = [gen_tcp:connect(conf:loopback(), Port, [binary, {active, false}], 300)
               || _ <- lists:seq(1, N)],
    conf:pause(),
    Outcomes = [outcome(R) || R <- Results],
    [{What, length([O || O <- Outcomes, O =:= What])} || What <- [kept, reset, timeout]].

outcome({ok, S}) ->
    case gen_tcp:recv(S, 0, 100) of
        {error, timeout} -> kept;
        {error, _} -> reset
    end;
outcome({error, timeout}) ->
    timeout;
outcome({error, _}) ->
    reset.

%% listen/2 again on the port of a listen socket that was closed while a connection it accepted
%% is still open there (a server restarted under its clients): refused without reuseaddr, made
%% with it. (Linux lets sockets share the port only when each has reuseaddr, so the first listen
%% socket, and the connection it accepted, have it.)
reuseaddr(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {reuseaddr, true}, {active, false}
                           | conf:server(C)]),
    Port = conf:port(M, L),
    Client = conf:connecting(M, "localhost", Port, [{active, false}]),
    {ok, _Accepted} = M:accept(L, ?WAIT),
    {ok, _Connected} = conf:await(Client),
    ok = M:close(L),
    ?note(listen_without_reuseaddr, listen_again(M, C, Port, false)),
    ?note(listen_with_reuseaddr, listen_again(M, C, Port, true)),
    {TcpListen, TcpPort} = conf:tcp_listen([{reuseaddr, true}]),
    _TcpClient = conf:tcp_connect(TcpPort),
    _TcpAccepted = conf:tcp_accept(TcpListen),
    ok = gen_tcp:close(TcpListen),
    ?note(gen_tcp_without_reuseaddr, tcp_listen_again(TcpPort, false)),
    ?note(gen_tcp_with_reuseaddr, tcp_listen_again(TcpPort, true)).

listen_again(M, C, Port, Reuse) ->
    case M:listen(Port, [{ip, conf:loopback()}, {reuseaddr, Reuse} | conf:server(C)]) of
        {ok, L} ->
            {ok, [{reuseaddr, Reuse}]} = M:getopts(L, [reuseaddr]),
            ok = M:close(L),
            listening;
        Error ->
            Error
    end.

tcp_listen_again(Port, Reuse) ->
    case gen_tcp:listen(Port, [{ip, conf:loopback()}, {reuseaddr, Reuse}]) of
        {ok, L} -> ok = gen_tcp:close(L), listening;
        Error -> Error
    end.

%% keepalive on both ends (the accepted socket has it from its listen socket), then off on one.
keepalive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{keepalive, true}]),
    ?note(getopts, M:getopts(Client, [keepalive])),
    ?note(getopts_accepted, M:getopts(Server, [keepalive])),
    ?note(client_timer, keepalive_timer(M, Client)),
    ?note(server_timer, keepalive_timer(M, Server)),
    ?note(setopts, M:setopts(Client, [{keepalive, false}])),
    ?note(getopts_after, M:getopts(Client, [keepalive])),
    ?note(client_timer_after, keepalive_timer(M, Client)).

%% Whether the kernel keeps a keepalive timer on the TCP connection of S (`ss' sees the
%% connections of every process, the bridge's too). ss shows one timer per connection, and a
%% retransmission or delayed-ack timer hides the keepalive one while it runs: looked at again.
keepalive_timer(M, S) ->
    {ok, {_, Port}} = M:sockname(S),
    timer_shown(integer_to_list(Port), 10).

timer_shown(_Port, 0) ->
    false;
timer_shown(Port, Tries) ->
    Line = os:cmd("ss -tnoH state established '( sport = :" ++ Port ++ " )'"),
    case string:find(Line, "timer:(keepalive") of
        nomatch -> conf:pause(), timer_shown(Port, Tries - 1);
        _ -> true
    end.
