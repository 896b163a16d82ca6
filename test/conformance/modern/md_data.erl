%% Sending and receiving with OTP 25's API: passive and active modes, {active, N}, framing,
%% options, the edge cases of send and recv.
-module(md_data).

-include("conf.hrl").

-export([passive_binary/1, passive_list/1, recv_length/1, recv_timeout/1, active_true/1,
         active_once/1, active_n/1, active_n_adds/1, active_n_zero/1, packet_2/1,
         packet_line/1, send_not_iodata/1, send_iolist/1, recv_in_active_mode/1,
         getopts_order/1, setopts_then_getopts/1, setopts_bad_value/1, connect_bad_mode/1,
         connect_bad_verify/1, connect_verify_code/1, large_transfer/1, empty_send/1, header_option/1,
         packet_size_exceeded/1, packet_size_exceeded_active/1,
         packet_size_exceeded_active_once/1, packet_size_exceeded_active_n/1,
         passive_owner_not_reading/1]).

passive_binary(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(send, M:send(Client, <<"hello">>)),
    ?note(recv, conf:passive_bytes({M, Server}, 5, [])).

passive_list(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ?note(send, M:send(Server, "hello")),
    ?note(recv, conf:passive_bytes({M, Client}, 5, [])).

recv_length(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"0123456789">>),
    ?note(first, M:recv(Server, 4, ?WAIT)),
    ?note(rest, M:recv(Server, 6, ?WAIT)).

recv_timeout(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [{active, false}]),
    ?note(recv, M:recv(Server, 0, 100)).

active_true(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    ok = M:send(Client, <<"active">>),
    ?note(data, conf:active_bytes(Server, 6, [])).

active_once(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, once}]),
    ok = M:send(Client, <<"one">>),
    ?note(first, conf:active_bytes(Server, 3, [])),
    ok = M:send(Client, <<"two">>),
    conf:pause(),
    ?note(none_yet, conf:nothing(Server)),
    ?note(getopts, M:getopts(Server, [active])),
    ?note(setopts, M:setopts(Server, [{active, once}])),
    ?note(second, conf:active_bytes(Server, 3, [])).

active_n(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:setopts(Server, [{packet, 2}]),
    ok = M:setopts(Client, [{packet, 2}]),
    ?note(setopts, M:setopts(Server, [{active, 2}])),
    ok = M:send(Client, <<"a">>),
    ok = M:send(Client, <<"b">>),
    ?note(first, conf:next(Server)),
    ?note(second, conf:next(Server)),
    ?note(passive, conf:next(Server)),
    ?note(getopts, M:getopts(Server, [active])).

active_n_adds(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [{active, false}]),
    ok = M:setopts(Server, [{active, 3}]),
    ?note(more, M:setopts(Server, [{active, 4}])),
    ?note(getopts, M:getopts(Server, [active])),
    ?note(fewer, M:setopts(Server, [{active, -7}])),
    ?note(passive, conf:next(Server)),
    ?note(after_zero, M:getopts(Server, [active])).

active_n_zero(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [{active, false}]),
    ?note(setopts, M:setopts(Server, [{active, 0}])),
    ?note(passive, conf:next(Server)).

packet_2(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}, {packet, 2}]),
    ok = M:send(Client, <<"framed">>),
    ok = M:send(Client, <<"twice">>),
    ?note(first, M:recv(Server, 0, ?WAIT)),
    ?note(second, M:recv(Server, 0, ?WAIT)).

packet_line(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}, {packet, line}]),
    ok = M:send(Client, "one\ntwo\n"),
    ?note(first, M:recv(Server, 0, ?WAIT)),
    ?note(second, M:recv(Server, 0, ?WAIT)).

send_not_iodata(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(send, M:send(Client, [an_atom])).

send_iolist(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(send, M:send(Client, [$a, [<<"bc">>, "d"], <<"e">>])),
    ?note(recv, conf:passive_bytes({M, Server}, 5, [])).

recv_in_active_mode(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(recv, M:recv(Client, 0, 100)).

getopts_order(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [binary, {active, false}]),
    ?note(getopts, M:getopts(Client, [mode, active, packet, header])).

setopts_then_getopts(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(setopts, M:setopts(Client, [binary, {active, once}, {packet, 4}, {nodelay, true}])),
    ?note(getopts, M:getopts(Client, [nodelay, packet, active, mode])).

setopts_bad_value(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(setopts, M:setopts(Client, [{active, sometimes}])).

connect_bad_mode(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{mode, octets}], ?WAIT)).

connect_bad_verify(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{verify, maybe}], ?WAIT)).

%% ssl 3.9's verify codes are not OTP's.
connect_verify_code(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{verify, 2}], ?WAIT)).

large_transfer(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    Data = binary:copy(<<"0123456789abcdef">>, 65536),
    Sending = conf:async(fun() -> M:send(Client, Data) end),
    Got = conf:passive_bytes({M, Server}, byte_size(Data), []),
    ?note(sent, conf:await(Sending)),
    ?note(all_there, Got =:= Data).

empty_send(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(empty, M:send(Client, <<>>)),
    ok = M:send(Client, <<"x">>),
    ?note(recv, M:recv(Server, 0, ?WAIT)).

header_option(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}, {header, 2}]),
    ok = M:send(Client, <<"abcdef">>),
    ?note(recv, M:recv(Server, 0, ?WAIT)).

%% A packet over packet_size: the reason names what was buffered, once, and the connection
%% closes (the peer sees it close too).
packet_size_exceeded(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:setopts(Server, [{packet, 2}, {packet_size, 4}]),
    ok = M:send(Client, <<0, 10, "0123456789">>),
    ?note(recv, M:recv(Server, 0, ?WAIT)),
    ?note(again, M:recv(Server, 0, ?WAIT)),
    ?note(peer, M:recv(Client, 0, ?WAIT)).

packet_size_exceeded_active(C) ->
    packet_size_exceeded_in(C, true).

packet_size_exceeded_active_once(C) ->
    packet_size_exceeded_in(C, once).

packet_size_exceeded_active_n(C) ->
    packet_size_exceeded_in(C, 3).

packet_size_exceeded_in(#{mod := M} = C, Active) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:setopts(Server, [{packet, 2}, {packet_size, 4}, {active, Active}]),
    ok = M:send(Client, <<0, 2, "ok", 0, 10, "0123456789">>),
    ?note(first, conf:next(Server)),
    ?note(error, conf:next(Server)),
    ?note(then, conf:next(Server, 500)),
    ?note(recv, M:recv(Server, 0, ?WAIT)),
    ?note(peer, M:recv(Client, 0, ?WAIT)).

%% An owner that does not read holds the peer up: what is read ahead for it is bounded (the peer's
%% sends stop well short of 64 MiB), and its recvs then get every byte in order.
passive_owner_not_reading(#{mod := M} = C) ->
    {S, Peer} = conf:peer_pair(C, server, {[binary, {active, false}], []}),
    Chunks = [crypto:strong_rand_bytes(65536) || _ <- lists:seq(1, 1024)],
    Sent = counters:new(1, []),
    Sending = conf:async(fun() ->
                                 [begin ok = conf:peer_send(Peer, Chunk), counters:add(Sent, 1, 1) end
                                  || Chunk <- Chunks],
                                 ok
                         end),
    timer:sleep(1000),
    ?note(peer_held_up, counters:get(Sent, 1) < length(Chunks)),
    ?note(all_in_order, conf:passive_bytes({M, S}, 65536 * length(Chunks), [])
                        =:= iolist_to_binary(Chunks)),
    ?note(sent, conf:await(Sending)).
