%% Owners: who gets the messages, and what an owner's end does to its sockets.
-module(sc_owner).

-include("conf.hrl").

-export([owner_exit_closes_socket/1, owner_crash_closes_socket/1,
         listen_owner_exit_closes_listen_socket/1, controlling_process_moves_delivery/1,
         controlling_process_lets_old_owner_go/1, new_owner_exit_closes_socket/1,
         controlling_process_by_non_owner/1, controlling_process_to_self/1,
         controlling_process_passes_queued_messages/1, acceptor_is_owner/1]).

%% The owner ends (normally): its socket closes and the peer sees it.
owner_exit_closes_socket(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Peer = conf:peer_accept(L),
    Owner = conf:async(fun() -> {ok, _} = M:connect("localhost", Port, []), connected end),
    ?note(owner, conf:await(Owner)),
    {ok, P} = conf:await(Peer),
    ?note(peer_recv, conf:peer_recv(P)).

owner_crash_closes_socket(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Peer = conf:peer_accept(L),
    {Pid, Monitor} = spawn_monitor(fun() ->
                                           {ok, _} = M:connect("localhost", Port, []),
                                           exit(crashed)
                                   end),
    ?note(owner, receive {'DOWN', Monitor, process, Pid, Why} -> Why after ?WAIT -> alive end),
    {ok, P} = conf:await(Peer),
    ?note(peer_recv, conf:peer_recv(P)).

listen_owner_exit_closes_listen_socket(#{mod := M} = C) ->
    Owner = conf:async(fun() -> {ok, L} = M:listen(0, conf:server(C)), conf:port(M, L) end),
    Port = conf:await(Owner),
    conf:pause(),
    ?note(connect, gen_tcp:connect(conf:loopback(), Port, [])).

%% After controlling_process/2 the new owner gets the messages.
controlling_process_moves_delivery(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}]),
    Parent = self(),
    NewOwner = spawn_link(fun() -> receive M1 -> Parent ! {relayed, M1} end end),
    ?note(give, M:controlling_process(Server, NewOwner)),
    ok = M:send(Client, "for the new owner"),
    ?note(relayed, receive {relayed, R} -> R after ?WAIT -> nothing end),
    ?note(old_owner_got, conf:nothing(Server)).

%% Once it has given the socket away, the creator may end; the socket stays.
controlling_process_lets_old_owner_go(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Peer = conf:peer_accept(L),
    Parent = self(),
    Creator = conf:async(fun() ->
                                 {ok, S} = M:connect("localhost", Port, [binary, {active, false}]),
                                 {M:controlling_process(S, Parent), S}
                         end),
    {Given, S} = conf:await(Creator),
    ?note(given, Given),
    {ok, P} = conf:await(Peer),
    ok = conf:peer_send(P, "still open"),
    ?note(recv, M:recv(S, 0, ?WAIT)).

%% The new owner's end closes the socket.
new_owner_exit_closes_socket(#{mod := M} = C) ->
    {S, P} = conf:peer_pair(C, client, {[], []}),
    NewOwner = spawn(fun() -> receive go -> ok end end),
    ?note(give, M:controlling_process(S, NewOwner)),
    NewOwner ! go,
    ?note(peer_recv, conf:peer_recv(P)).

%% 3.9: only the owner may give the socket away; the refusal changes nothing. Who gets the next
%% message shows whether the owner changed.
controlling_process_by_non_owner(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}]),
    Parent = self(),
    Stranger = spawn_link(fun() ->
                                  Parent ! {tried, M:controlling_process(Server, self())},
                                  receive {ssl, _, _} -> Parent ! stranger_got_it end
                          end),
    Tried = receive {tried, T} -> T end,
    ok = M:send(Client, "still mine"),
    Who = receive
              stranger_got_it -> stranger_got_it;
              {ssl, Server, _} -> owner_got_it
          after ?WAIT -> nobody_got_it
          end,
    unlink(Stranger),
    ?note(controlling_process, {Tried, Who}).

controlling_process_to_self(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}]),
    ?note(give, M:controlling_process(Server, self())),
    ok = M:send(Client, "mine"),
    ?note(message, conf:next(Server)).

%% Messages that came before the change go on to the new owner, before later ones: what the
%% new owner gets, up to a message sent after the change, and what is left with the old one.
controlling_process_passes_queued_messages(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}]),
    [ok = M:send(Client, D) || D <- ["one", "two", "three"]],
    ok = M:setopts(Server, [{active, true}]),
    conf:pause(),
    Parent = self(),
    NewOwner = spawn_link(fun Relay() -> receive M1 -> Parent ! {relayed, M1}, Relay() end end),
    ?note(give, M:controlling_process(Server, NewOwner)),
    ok = M:send(Client, "four"),
    Relayed = relayed_until({ssl, Server, <<"four">>}),
    ?note(messages, {Relayed, conf:nothing(Server)}).

relayed_until(Last) ->
    receive
        {relayed, Last} -> [Last];
        {relayed, M} -> [M | relayed_until(Last)]
    after ?WAIT ->
        [nothing]
    end.

%% transport_accept's caller owns what it accepts (manual: "The owner of a socket is the one that
%% created it by a call to transport_accept").
acceptor_is_owner(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [binary, {packet, 2}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [binary, {packet, 2}]),
    Parent = self(),
    Acceptor = spawn_link(fun() ->
                                  {ok, S} = M:transport_accept(L),
                                  _ = M:ssl_accept(S),
                                  Parent ! {accepted, S},
                                  receive Msg -> Parent ! {acceptor_got, Msg} end
                          end),
    S = receive {accepted, Accepted} -> Accepted end,
    {ok, Cs} = conf:await(Client),
    ok = M:send(Cs, "to the acceptor"),
    ?note(acceptor_got, receive {acceptor_got, Got} -> Got after ?WAIT -> nothing end),
    ?note(about_the_socket_accepted, S),
    unlink(Acceptor).
