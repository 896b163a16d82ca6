%% Connecting and accepting, in every order the manual allows.
-module(sc_connect).

-include("conf.hrl").

-export([accept_in_spawned_process/1, connect_before_transport_accept/1,
         ssl_accept_after_client_waits/1, obsolete_accept/1, two_clients_in_turn/1,
         server_under_test/1, client_under_test/1, connect_by_name_string_and_tuple/1,
         connect_binds_ip_and_port/1, listen_ip/1, listen_port_in_use/1,
         sockname_is_peers_peername/1, connect_caller_exits_in_handshake/1]).

%% The manual's server loop: listen; transport_accept, then ssl_accept "directly after", in a
%% spawned process; the client connects; data both ways.
accept_in_spawned_process(#{mod := M} = C) ->
    {ok, L} = ?note(listen, M:listen(0, conf:server(C) ++ [binary, {active, false}])),
    Server = conf:async(fun() ->
                                {ok, S} = M:transport_accept(L),
                                Accepted = M:ssl_accept(S),
                                {ok, Ping} = M:recv(S, 4),
                                ok = M:send(S, "pong"),
                                {Accepted, Ping}
                        end),
    {ok, Client} = ?note(connect, M:connect("localhost", conf:port(M, L), [binary, {active, false}])),
    ?note(send, M:send(Client, "ping")),
    ?note(recv, M:recv(Client, 4)),
    {Accepted, Ping} = conf:await(Server),
    ?note(ssl_accept, Accepted),
    ?note(server_recv, Ping).

%% The client's TCP connection waits in the backlog before transport_accept is called.
connect_before_transport_accept(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    conf:pause(),
    {ok, S} = ?note(transport_accept, M:transport_accept(L)),
    ?note(ssl_accept, M:ssl_accept(S)),
    {ok, Cs} = ?note(connect, conf:await(Client)),
    ?note(send, M:send(S, "late but fine")),
    ?note(recv, M:recv(Cs, 0)).

%% The client waits in its handshake while the server takes its time before ssl_accept.
ssl_accept_after_client_waits(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    {ok, S} = ?note(transport_accept, M:transport_accept(L)),
    conf:pause(),
    ?note(ssl_accept, M:ssl_accept(S, ?WAIT)),
    {ok, Cs} = ?note(connect, conf:await(Client)),
    ?note(send, M:send(Cs, "hello")),
    ?note(recv, M:recv(S, 0)).

%% accept/1: the obsolete call that does both halves.
obsolete_accept(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Client = conf:connecting(M, "localhost", conf:port(M, L), [{active, false}]),
    {ok, S} = ?note(accept, M:accept(L)),
    {ok, Cs} = ?note(connect, conf:await(Client)),
    ?note(send, M:send(S, "from accept/1")),
    ?note(recv, M:recv(Cs, 0)).

%% Two clients, accepted one after the other on one listen socket; each keeps its own data.
two_clients_in_turn(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Port = conf:port(M, L),
    First = conf:connecting(M, "localhost", Port, [{active, false}]),
    {ok, S1} = ?note(accept_first, M:accept(L)),
    {ok, C1} = conf:await(First),
    Second = conf:connecting(M, "localhost", Port, [{active, false}]),
    {ok, S2} = ?note(accept_second, M:accept(L)),
    {ok, C2} = conf:await(Second),
    ok = M:send(C2, "two"),
    ok = M:send(C1, "one"),
    ?note(first, M:recv(S1, 0)),
    ?note(second, M:recv(S2, 0)).

%% Only the server is under test; OTP's ssl connects to it.
server_under_test(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [binary, {active, false}]),
    Peer = conf:peer_connect(C, conf:port(M, L)),
    {ok, S} = ?note(transport_accept, M:transport_accept(L)),
    ?note(ssl_accept, M:ssl_accept(S)),
    {ok, P} = conf:await(Peer),
    ok = conf:peer_send(P, "to the server"),
    ?note(recv, M:recv(S, 0)),
    ?note(send, M:send(S, "to the peer")),
    ?note(peer_recv, conf:peer_recv(P)).

%% Only the client is under test; it connects to OTP's ssl.
client_under_test(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Peer = conf:peer_accept(L),
    {ok, S} = ?note(connect, M:connect("localhost", Port, [binary, {active, false}])),
    {ok, P} = conf:await(Peer),
    ok = conf:peer_send(P, "to the client"),
    ?note(recv, M:recv(S, 0)),
    ?note(send, M:send(S, "to the peer")),
    ?note(peer_recv, conf:peer_recv(P)).

%% address() is a host name, an IP string or an IP tuple.
connect_by_name_string_and_tuple(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C) ++ [{active, false}]),
    Port = conf:port(M, L),
    [begin
         Client = conf:connecting(M, Address, Port, []),
         ?note({accept, Address}, M:accept(L)),
         ?note({connect, Address}, conf:await(Client))
     end || Address <- ["localhost", "127.0.0.1", {127, 0, 0, 1}]],
    ok.

%% {ip, _} and {port, _} bind the connecting socket (manual: for connect only).
connect_binds_ip_and_port(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Peer = conf:peer_accept(L),
    {Free, LocalPort} = conf:tcp_listen(),
    ok = gen_tcp:close(Free),
    {ok, S} = ?note(connect, M:connect("localhost", Port, [{ip, conf:loopback()},
                                                           {port, LocalPort}])),
    {ok, P} = conf:await(Peer),
    {ok, {Ip, Bound}} = ?note(sockname, M:sockname(S)),
    ?note(bound_to_the_port_asked, Bound =:= LocalPort),
    ?note(peer_sees, ssl:peername(P) =:= {ok, {Ip, LocalPort}}).

%% A listen socket is on {0,0,0,0} unless {ip, _} says otherwise.
listen_ip(#{mod := M} = C) ->
    {ok, Any} = M:listen(0, conf:server(C)),
    ?note(any, M:sockname(Any)),
    {ok, Loopback} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    ?note(loopback, M:sockname(Loopback)).

listen_port_in_use(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(listen_again, M:listen(conf:port(M, L), conf:server(C))).

%% Each end's sockname is the other's peername.
sockname_is_peers_peername(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    {ok, ClientName} = ?note(client_sockname, M:sockname(Client)),
    {ok, ServerName} = ?note(server_sockname, M:sockname(Server)),
    ?note(server_peername_is_client, M:peername(Server) =:= {ok, ClientName}),
    ?note(client_peername_is_server, M:peername(Client) =:= {ok, ServerName}).

%% The caller of connect exits while its handshake waits on a server that never answers the
%% ClientHello: the handshake is abandoned and the TCP connection closed, which the server sees.
connect_caller_exits_in_handshake(#{mod := M}) ->
    {Listen, Port} = conf:tcp_listen(),
    Caller = spawn(fun() -> M:connect("localhost", Port, [], infinity) end),
    Server = conf:tcp_accept(Listen),
    {ok, _Hello} = gen_tcp:recv(Server, 0, ?WAIT),
    exit(Caller, kill),
    ?note(server_sees, until_closed(Server)).

%% What a gen_tcp socket reads until it fails: `{error, closed}' once the other end has gone.
until_closed(S) ->
    case gen_tcp:recv(S, 0, ?WAIT) of
        {ok, _} -> until_closed(S);
        Error -> Error
    end.
