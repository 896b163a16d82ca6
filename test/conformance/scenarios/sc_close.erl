%% close/1 from each side, and what each end sees afterwards.
-module(sc_close).

-include("conf.hrl").

-export([client_closes_server_passive/1, server_closes_client_passive/1,
         client_closes_server_active/1, server_closes_client_active/1,
         data_then_close_passive/1, data_then_close_active/1, calls_after_close/1,
         close_twice/1, peer_closes_while_recv_waits/1, send_after_peer_closed/1,
         close_listen_socket_keeps_accepted/1, transport_accept_when_listen_closes/1,
         calls_on_closed_listen_socket/1, records_then_close_passive/1,
         records_then_close_active_once/1, recv_after_closed_active_once/1,
         recv_after_closed_active/1]).

client_closes_server_passive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ?note(close, M:close(Client)),
    ?note(recv, M:recv(Server, 0, ?WAIT)),
    ?note(recv_again, M:recv(Server, 0, ?WAIT)).

server_closes_client_passive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ?note(close, M:close(Server)),
    ?note(recv, M:recv(Client, 0, ?WAIT)).

client_closes_server_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    ?note(close, M:close(Client)),
    ?note(message, conf:next(Server)),
    ?note(no_more, conf:nothing(Server)).

server_closes_client_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    ?note(close, M:close(Server)),
    ?note(message, conf:next(Client)).

%% What was sent before close/1 arrives before the end.
data_then_close_passive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}]),
    ok = M:send(Client, "last words"),
    ?note(close, M:close(Client)),
    ?note(data, M:recv(Server, 0, ?WAIT)),
    ?note('end', M:recv(Server, 0, ?WAIT)).

data_then_close_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}]),
    ok = M:send(Client, "last words"),
    ?note(close, M:close(Client)),
    ?note(data, conf:next(Server)),
    ?note('end', conf:next(Server)).

%% After close/1 every call on the socket says closed (3.9 made the caller exit).
calls_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{active, false}]),
    ok = M:close(Client),
    ?note(send, M:send(Client, "x")),
    ?note(recv, M:recv(Client, 0, 100)),
    ?note(setopts, M:setopts(Client, [binary])),
    ?note(getopts, M:getopts(Client, [mode])),
    ?note(controlling_process, M:controlling_process(Client, self())),
    ?note(sockname, M:sockname(Client)),
    ?note(peername, M:peername(Client)).

close_twice(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(first, M:close(Client)),
    ?note(second, M:close(Client)).

peer_closes_while_recv_waits(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    Waiting = conf:async(fun() -> M:recv(Server, 0) end),
    conf:pause(),
    ?note(close, M:close(Client)),
    ?note(recv, conf:await(Waiting)).

%% The peer has gone: a send may still be accepted (the manual: closed "for the operation in
%% question"), but not for long, and recv says closed.
send_after_peer_closed(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ok = M:close(Client),
    ?note(recv, M:recv(Server, 0, ?WAIT)),
    ?note(sends, lists:usort([M:send(Server, "into the void") || _ <- lists:seq(1, 20)])).

%% Closing the listen socket leaves accepted connections alone and refuses new ones.
close_listen_socket_keeps_accepted(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Port = conf:port(M, L),
    Client = conf:connecting(M, "localhost", Port, [{active, false}]),
    {ok, S} = M:accept(L, ?WAIT),
    {ok, Cs} = conf:await(Client),
    ?note(close, M:close(L)),
    ok = M:send(Cs, "still here"),
    ?note(recv, M:recv(S, 0, ?WAIT)),
    ?note(new_connection, gen_tcp:connect(conf:loopback(), Port, [])).

transport_accept_when_listen_closes(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Waiting = conf:async(fun() -> M:transport_accept(L) end),
    conf:pause(),
    ?note(close, M:close(L)),
    ?note(transport_accept, conf:await(Waiting)).

calls_on_closed_listen_socket(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ok = M:close(L),
    ?note(transport_accept, M:transport_accept(L, 100)),
    ?note(close_again, M:close(L)),
    ?note(sockname, M:sockname(L)).

%% Many small TLS records, then the peer's close: every byte arrives before the end, however
%% the reads fall. The peer half-closes, as the README asks of a client of a TLS 1.3 server: a
%% full close with the server's session tickets unread makes its TCP stack reset the
%% connection, and records the server has not read yet can go with the reset.
records_then_close_passive(#{mod := M} = C) ->
    {S, Peer} = conf:peer_pair(C, server, {[binary, {active, false}], []}),
    [ok = conf:peer_send(Peer, <<I>>) || I <- lists:seq(1, 200)],
    ok = ssl:shutdown(Peer, write),
    ?note(received, conf:passive_bytes({M, S}, 200, [])),
    ?note('end', M:recv(S, 0, ?WAIT)),
    ssl:close(Peer).

records_then_close_active_once(#{mod := M} = C) ->
    {S, Peer} = conf:peer_pair(C, server, {[binary, {packet, 1}, {active, once}], [{packet, 1}]}),
    [ok = conf:peer_send(Peer, <<I>>) || I <- lists:seq(1, 100)],
    ok = ssl:shutdown(Peer, write),
    ?note(received, once_until_closed(M, S, [])),
    ssl:close(Peer).

once_until_closed(M, S, Acc) ->
    case conf:next(S) of
        {ssl, S, <<Byte>>} ->
            ok = M:setopts(S, [{active, once}]),
            once_until_closed(M, S, [Byte | Acc]);
        End ->
            {lists:reverse(Acc) =:= lists:seq(1, 100), length(Acc), End}
    end.

%% recv after {ssl_closed, S} has come: closed, as gen_tcp's recv after {tcp_closed, S} (noted
%% beside). The socket is no longer active, whatever `active' said.
recv_after_closed_active_once(C) ->
    recv_after_closed(C, once).

recv_after_closed_active(C) ->
    recv_after_closed(C, true).

recv_after_closed(#{mod := M} = C, Active) ->
    {Client, Server} = conf:pair(C, [binary, {active, Active}]),
    {TcpClient, TcpServer} = conf:tcp_pair(),
    ok = inet:setopts(TcpServer, [{active, Active}]),
    ok = M:close(Client),
    ok = gen_tcp:close(TcpClient),
    ?note(message, conf:next(Server)),
    ?note(recv, M:recv(Server, 0, ?WAIT)),
    ?note(gen_tcp_message, receive {tcp_closed, TcpServer} -> tcp_closed after ?WAIT -> none end),
    ?note(gen_tcp_recv, gen_tcp:recv(TcpServer, 0, ?WAIT)).
