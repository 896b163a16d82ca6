%% send/recv in each mode: passive and active (true, once, N), list and binary, and the options
%% that go with them.
-module(sc_data).

-include("conf.hrl").

-export([passive_list/1, passive_binary/1, passive_exact_lengths/1, active_list_by_default/1,
         active_binary/1, active_once/1, passive_then_active/1, active_n/1,
         mode_switch/1, send_iolist/1, send_not_iodata/1, recv_on_active_socket/1,
         one_mib_each_way/1, getopts_defaults/1, setopts_then_getopts/1, nodelay/1,
         binary_is_mode_binary/1, accepted_socket_inherits_options/1, empty_send/1]).

passive_list(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ok = M:send(Client, <<"hello world">>),
    ?note(recv, conf:passive_bytes({M, Server}, 11, [])).

passive_binary(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, "hello world"),
    ?note(recv, conf:passive_bytes({M, Server}, 11, [])).

%% recv(S, N): exactly N bytes, in raw mode.
passive_exact_lengths(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{active, false}]),
    ok = M:send(Client, "abcdef"),
    ok = M:send(Client, "ghij"),
    ?note(first, M:recv(Server, 3)),
    ?note(second, M:recv(Server, 5)),
    ?note(third, M:recv(Server, 2)).

%% The manual's defaults: active, list.
active_list_by_default(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    ok = M:send(Client, "hello"),
    ?note(data, conf:active_bytes(Server, 5, [])).

active_binary(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary]),
    ok = M:send(Client, "hello"),
    ?note(data, conf:active_bytes(Server, 5, [])).

%% {active, once}: one message, then passive until asked again.
active_once(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, once}]),
    ok = M:send(Client, "one"),
    ok = M:send(Client, "two"),
    ?note(first, conf:next(Server)),
    ?note(active, M:getopts(Server, [active])),
    ?note(queued, conf:nothing(Server)),
    ?note(rearm, M:setopts(Server, [{active, once}])),
    ?note(second, conf:next(Server)).

%% What came while passive is delivered when the socket turns active.
passive_then_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}]),
    ok = M:send(Client, "while passive"),
    ?note(recv, M:recv(Server, 0)),
    ok = M:send(Client, "still passive"),
    ?note(activate, M:setopts(Server, [{active, true}])),
    ?note(message, conf:next(Server)).

%% {active, N} (newer OTP, accepted as a superset): N messages, then {ssl_passive, S}.
active_n(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, 2}]),
    [ok = M:send(Client, D) || D <- ["a", "b", "c"]],
    ?note(first, conf:next(Server)),
    ?note(second, conf:next(Server)),
    ?note(passive, conf:next(Server)),
    ?note(active, M:getopts(Server, [active])),
    ?note(more, M:setopts(Server, [{active, 1}])),
    ?note(third, conf:next(Server)),
    ?note(passive_again, conf:next(Server)).

%% setopts(S, [binary]) changes the form of what comes next.
mode_switch(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{packet, 1}, {active, false}]),
    ok = M:send(Client, "as a list"),
    ?note(list, M:recv(Server, 0)),
    ?note(setopts, M:setopts(Server, [binary])),
    ok = M:send(Client, "as a binary"),
    ?note(binary, M:recv(Server, 0)),
    ?note(back, M:setopts(Server, [{mode, list}])),
    ok = M:send(Client, "a list again"),
    ?note(list_again, M:recv(Server, 0)).

send_iolist(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(send, M:send(Client, [$a, [<<"bc">>, [[$d]], <<>>], "ef" | <<"g">>])),
    ?note(recv, conf:passive_bytes({M, Server}, 7, [])).

send_not_iodata(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(atom, M:send(Client, not_data)),
    ?note(bad_byte, M:send(Client, [256])).

%% recv/2,3 is for passive sockets (3.9: "Call not recognized for current mode").
recv_on_active_socket(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, []),
    ?note(recv, M:recv(Server, 0, 100)).

one_mib_each_way(#{mod := M} = C) ->
    Size = 1024 * 1024,
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    Out = crypto:strong_rand_bytes(Size),
    Receiver = conf:async(fun() -> crypto:hash(sha256, conf:passive_bytes({M, Server}, Size, [])) end),
    ?note(sent, lists:usort([M:send(Client, Chunk) || Chunk <- conf:chunks(Out, 100000)])),
    ?note(received_intact, conf:await(Receiver) =:= crypto:hash(sha256, Out)),
    ok = M:setopts(Client, [{active, true}]),
    In = crypto:strong_rand_bytes(Size),
    ?note(sent_back, M:send(Server, In)),
    ?note(received_back_intact, conf:active_bytes(Client, Size, []) =:= In).

%% The manual's defaults, asked in an order of our own.
getopts_defaults(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(getopts, M:getopts(Client, [mode, packet, header, nodelay, active])).

setopts_then_getopts(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    Options = [{mode, binary}, {packet, 4}, {header, 1}, {nodelay, true}, {active, false}],
    ?note(setopts, M:setopts(Client, Options)),
    {ok, Got} = ?note(getopts, M:getopts(Client, [T || {T, _} <- Options])),
    ?note(same_set, lists:sort(Got) =:= lists:sort(Options)).

nodelay(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{nodelay, true}, {active, false}]),
    ?note(getopts, M:getopts(Client, [nodelay])),
    ?note(setopts, M:setopts(Client, [{nodelay, false}])),
    ?note(getopts_again, M:getopts(Client, [nodelay])),
    ok = M:send(Client, "x"),
    ?note(recv, M:recv(Server, 1)).

%% `binary' and {mode, binary} are one option; {mode, list} is its absence.
binary_is_mode_binary(#{mod := M} = C) ->
    [begin
         {Client, Server} = conf:pair(C, Option ++ [{active, false}]),
         ok = M:send(Client, "x"),
         ?note({Option, getopts}, M:getopts(Server, [mode])),
         ?note({Option, recv}, M:recv(Server, 1))
     end || Option <- [[binary], [{mode, binary}], [{mode, list}], [binary, {mode, list}]]],
    ok.

%% "The accepted socket inherits the options set for ListenSocket in listen/2."
accepted_socket_inherits_options(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [], [binary, {packet, 2}, {active, false}, {header, 1}]),
    ?note(getopts, M:getopts(Server, [mode, packet, active, header])).

%% An empty send in raw mode writes nothing; the next send arrives alone.
empty_send(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ?note(empty, M:send(Client, <<>>)),
    ?note(empty_list, M:send(Client, [])),
    ok = M:send(Client, "x"),
    ?note(recv, M:recv(Server, 0)).
