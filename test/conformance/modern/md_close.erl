%% Ending connections and changing owners with OTP 25's API: close/1, shutdown/2, the owner's
%% exit, controlling_process/2, and calls on closed sockets.
-module(md_close).

-include("conf.hrl").

-export([peer_closes_passive/1, peer_closes_active/1, close_twice/1, send_after_close/1,
         recv_after_close/1, sockname_after_close/1, shutdown_write_half_close/1,
         shutdown_read_write/1, send_after_shutdown_write/1,
         owner_exit_closes/1, controlling_process_moves_messages/1,
         controlling_process_queued_stay/1, controlling_process_by_other/1,
         close_listen_socket_keeps_connections/1, recv_gets_data_before_close/1,
         records_then_close_unread/1]).

peer_closes_passive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(close, M:close(Client)),
    ?note(recv, M:recv(Server, 0, ?WAIT)).

peer_closes_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    ?note(close, M:close(Client)),
    ?note(message, conf:next(Server)).

close_twice(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(first, M:close(Client)),
    ?note(second, M:close(Client)).

send_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ok = M:close(Client),
    ?note(send, M:send(Client, "late")).

recv_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{active, false}]),
    ok = M:close(Client),
    ?note(recv, M:recv(Client, 0, 100)).

sockname_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ok = M:close(Client),
    ?note(sockname, M:sockname(Client)),
    ?note(peername, M:peername(Client)).

%% The client half-closes: the server reads to the end, answers, and the client reads it.
shutdown_write_half_close(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"request">>),
    ?note(shutdown, M:shutdown(Client, write)),
    ?note(server_recv, conf:passive_bytes({M, Server}, 7, [])),
    ?note(server_eof, M:recv(Server, 0, ?WAIT)),
    ?note(server_send, M:send(Server, <<"reply">>)),
    ?note(client_recv, M:recv(Client, 0, ?WAIT)).

shutdown_read_write(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(shutdown, M:shutdown(Client, read_write)),
    ?note(server_recv, M:recv(Server, 0, ?WAIT)).

%% Once the peer has answered the half-close with its own close (a recv that says closed tells
%% it has), a send says closed; before that its answer depends on when the peer's close arrives.
send_after_shutdown_write(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:shutdown(Client, write),
    ?note(recv, M:recv(Client, 0, ?WAIT)),
    ?note(send, M:send(Client, <<"late">>)).

owner_exit_closes(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)] ++ [binary]),
    Parent = self(),
    Owner = spawn(fun() ->
                          {ok, S} = M:connect("localhost", conf:port(M, L), [binary], ?WAIT),
                          Parent ! {connected, S},
                          receive stop -> ok end
                  end),
    {ok, T} = M:transport_accept(L, ?WAIT),
    {ok, Server} = M:handshake(T, ?WAIT),
    receive {connected, _} -> ok after ?WAIT -> ok end,
    Owner ! stop,
    ?note(message, conf:next(Server)).

controlling_process_moves_messages(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    Parent = self(),
    New = spawn_link(fun() ->
                             receive go -> ok end,
                             Parent ! {got, conf:next(Server)}
                     end),
    ?note(controlling_process, M:controlling_process(Server, New)),
    ok = M:send(Client, <<"for the new owner">>),
    New ! go,
    ?note(new_owner, receive {got, {ssl, _, Data}} -> Data; {got, Other} -> Other
                     after ?WAIT -> no_answer end).

%% Messages the socket had sent to the old owner stay in its mailbox.
controlling_process_queued_stay(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, once}]),
    ok = M:send(Client, <<"queued">>),
    conf:pause(),
    New = spawn_link(fun() -> receive never -> ok end end),
    ?note(controlling_process, M:controlling_process(Server, New)),
    ?note(still_here, conf:nothing(Server)).

%% OTP 25 lets any process give a socket away.
controlling_process_by_other(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    Parent = self(),
    Other = spawn_link(fun() ->
                               Parent ! {moved, M:controlling_process(Server, Parent)},
                               receive never -> ok end
                       end),
    ok = M:controlling_process(Server, Other),
    ?note(by_other, receive {moved, R} -> R after ?WAIT -> no_answer end),
    ok = M:send(Client, <<"back">>),
    ?note(message, conf:next(Server)).

close_listen_socket_keeps_connections(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"still open">>),
    ?note(recv, M:recv(Server, 0, ?WAIT)).

recv_gets_data_before_close(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"last words">>),
    ok = M:close(Client),
    ?note(data, M:recv(Server, 0, ?WAIT)),
    ?note(then, M:recv(Server, 0, ?WAIT)).

%% A client sends many records and closes at once; the server's owner starts reading only then,
%% and gets every byte before the end.
records_then_close_unread(#{mod := M} = C) ->
    {S, Peer} = conf:peer_pair(C, server, {[binary, {active, false}], []}),
    Records = [binary:copy(<<I>>, 1 + I rem 64) || I <- lists:seq(1, 500)],
    [ok = conf:peer_send(Peer, R) || R <- Records],
    ok = ssl:close(Peer),
    conf:pause(),
    ?note(received, conf:passive_bytes({M, S}, iolist_size(Records), []) =:= iolist_to_binary(Records)),
    ?note('end', M:recv(S, 0, ?WAIT)).
