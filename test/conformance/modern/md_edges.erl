%% Calls on sockets in the wrong state or of the wrong kind, with OTP 25's API.
-module(md_edges).

-include("conf.hrl").

-export([getopts_listen_socket/1, accepted_inherits_listen_options/1, peername_listen_socket/1,
         recv_before_handshake/1, controlling_process_to_dead_pid/1, setopts_after_close/1,
         getopts_after_close/1, peercert_after_close/1]).

getopts_listen_socket(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [binary, {active, once}, {packet, 2}]),
    ?note(getopts, M:getopts(L, [mode, active, packet])).

accepted_inherits_listen_options(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)] ++ [binary, {active, false},
                                                                        {packet, 2}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), []),
    {ok, T} = M:transport_accept(L, ?WAIT),
    {ok, S} = M:handshake(T, ?WAIT),
    _ = conf:await(Client),
    ?note(getopts, M:getopts(S, [mode, active, packet])).

peername_listen_socket(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(peername, M:peername(L)).

recv_before_handshake(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {active, false} | conf:server(C)]),
    _Tcp = conf:tcp_connect(conf:port(M, L)),
    {ok, T} = M:transport_accept(L, ?WAIT),
    ?note(recv, M:recv(T, 0, 100)).

controlling_process_to_dead_pid(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    Dead = spawn(fun() -> ok end),
    conf:pause(),
    ?note(controlling_process, M:controlling_process(Client, Dead)).

setopts_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ok = M:close(Client),
    ?note(setopts, M:setopts(Client, [{active, once}])).

getopts_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ok = M:close(Client),
    ?note(getopts, M:getopts(Client, [active])).

peercert_after_close(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ok = M:close(Client),
    ?note(peercert, M:peercert(Client)).
