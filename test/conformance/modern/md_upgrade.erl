%% connect/2,3 on a connected gen_tcp socket (STARTTLS) with OTP 25's API: a plaintext line
%% each way, then TLS on the same connection; the server is OTP's ssl upgrading its own gen_tcp
%% socket.
-module(md_upgrade).

-include("conf.hrl").

-export([starttls_exchange/1, starttls_connect_2/1, server_sends_after_handshake/1,
         refused_unknown_ca/1, upgrade_timeout/1, peer_closes_passive/1, peer_closes_active/1,
         not_owner/1, options_refused/1, large_both_ways/1, owner_exit_closes_tcp/1,
         controlling_process_then_close/1, handshake_exchange/1, handshake_timeout/1]).

starttls_exchange(#{mod := M} = C) ->
    {S, Server, Tcp} = upgraded(C, [{verify, verify_none}]),
    ?note(getopts, M:getopts(S, [mode, active, packet])),
    ?note(peername, M:peername(S) =:= inet:peername(Tcp)),
    ?note(sockname, M:sockname(S) =:= inet:sockname(Tcp)),
    ?note(protocol, M:connection_information(S, [protocol])),
    ?note(peercert, element(1, M:peercert(S))),
    ?note(getstat, octets(M:getstat(S, [recv_oct, send_oct]))),
    ?note(send, M:send(S, <<"EHLO client">>)),
    ?note(server_recv, conf:passive_bytes({ssl, Server}, 11, [])),
    ?note(server_send, ssl:send(Server, <<"250 ok">>)),
    ?note(recv, conf:passive_bytes({M, S}, 6, [])),
    ?note(close, M:close(S)),
    ?note(server_sees, ssl:recv(Server, 0, ?WAIT)),
    ?note(tcp, closes(Tcp, ?WAIT)).

%% connect/2 has no timeout; the TLS socket takes the gen_tcp socket's options.
starttls_connect_2(#{mod := M} = C) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(M, Port, fun(Tcp) -> M:connect(Tcp, []) end),
    Server = server(C, L),
    {{ok, S}, _, _} = ?note(connect, conf:await(Client)),
    ?note(getopts, M:getopts(S, [mode, active])),
    ok = ssl:send(Server, <<"data">>),
    ?note(recv, M:recv(S, 0, ?WAIT)).

%% The server's first bytes may come with the end of the handshake; they wait in the socket
%% until its owner takes them.
server_sends_after_handshake(#{mod := M} = C) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(M, Port, fun(Tcp) -> M:connect(Tcp, [{active, false}], ?WAIT) end),
    Server = server(C, L),
    ok = ssl:send(Server, <<"banner">>),
    {{ok, S}, _, _} = conf:await(Client),
    ok = M:setopts(S, [{active, true}]),
    ?note(message, conf:active_bytes(S, 6, [])).

%% verify_peer against a server whose CA the client does not trust: OTP's alert, and the TCP
%% connection as the refusal leaves it.
refused_unknown_ca(#{mod := M} = C) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(M, Port, fun(Tcp) -> failed(M:connect(Tcp, [{verify, verify_peer} | conf:ca(C)], ?WAIT), Tcp) end),
    TcpS = plaintext(L),
    _ = ssl:handshake(TcpS, [{certfile, conf:file(C, "stranger.pem")},
                             {keyfile, conf:file(C, "stranger.key")}], ?WAIT),
    {{{error, {tls_alert, {Alert, _}}}, State}, _, _} = conf:await(Client),
    ?note(alert, Alert),
    ?note(tcp, State).

%% A server that answers the line but never speaks TLS.
upgrade_timeout(#{mod := M}) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(M, Port, fun(Tcp) -> failed(M:connect(Tcp, [], 300), Tcp) end),
    TcpS = plaintext(L),
    {{Result, State}, _, _} = conf:await(Client),
    ?note(connect, Result),
    ?note(tcp, State),
    ?note(server_sees, read_to_end(TcpS)).

peer_closes_passive(#{mod := M} = C) ->
    {S, Server, _Tcp} = upgraded(C, [binary, {active, false}]),
    ?note(close, ssl:close(Server)),
    ?note(recv, M:recv(S, 0, ?WAIT)).

peer_closes_active(#{mod := M} = C) ->
    {S, Server, _Tcp} = upgraded(C, [binary, {active, true}]),
    ?note(close, ssl:close(Server)),
    ?note(message, conf:next(S)).

%% More than any one chunk or write each way at once: every byte arrives, in order.
large_both_ways(#{mod := M} = C) ->
    {S, Server, _Tcp} = upgraded(C, [binary, {active, false}]),
    Data = crypto:strong_rand_bytes(1 bsl 20),
    Sending = conf:async(fun() -> ssl:send(Server, Data) end),
    ?note(send, M:send(S, Data)),
    ?note(server_recv, conf:passive_bytes({ssl, Server}, byte_size(Data), []) =:= Data),
    ?note(recv, conf:passive_bytes({M, S}, byte_size(Data), []) =:= Data),
    ?note(server_send, conf:await(Sending)).

%% The TLS socket, and with it the TCP connection, ends with its owner.
owner_exit_closes_tcp(#{mod := M} = C) ->
    {S, Server, Tcp} = upgraded(C, [binary, {active, false}]),
    Owner = spawn(fun() -> receive stop -> ok end end),
    ok = M:controlling_process(S, Owner),
    Owner ! stop,
    ?note(server_sees, ssl:recv(Server, 0, ?WAIT)),
    ?note(tcp, closes(Tcp, ?WAIT)).

%% A socket given away keeps working for its new owner, until it closes it.
controlling_process_then_close(#{mod := M} = C) ->
    {S, Server, Tcp} = upgraded(C, [binary, {active, false}]),
    Parent = self(),
    Other = spawn(fun() ->
                          Got = M:recv(S, 0, ?WAIT),
                          Parent ! {got, Got, M:close(S)}
                  end),
    ok = M:controlling_process(S, Other),
    ok = ssl:send(Server, <<"to the new owner">>),
    ?note(other, receive {got, _, _} = Got -> Got after ?WAIT -> none end),
    ?note(server_sees, ssl:recv(Server, 0, ?WAIT)),
    ?note(tcp, closes(Tcp, ?WAIT)).

%% The server's side: handshake/2,3 on the accepted gen_tcp socket, OTP's ssl upgrading the
%% client's.
handshake_exchange(#{mod := M} = C) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(ssl, Port, fun(Tcp) -> ssl:connect(Tcp, [{verify, verify_none}], ?WAIT) end),
    TcpS = plaintext(L),
    {ok, S} = ?note(handshake, M:handshake(TcpS, conf:server(C), ?WAIT)),
    {{ok, Peer}, Tcp, _} = conf:await(Client),
    ?note(getopts, M:getopts(S, [mode, active, packet])),
    ?note(peername, M:peername(S) =:= inet:peername(TcpS)),
    ?note(protocol, M:connection_information(S, [protocol])),
    ?note(send, M:send(S, <<"220 ready">>)),
    ?note(peer_recv, conf:passive_bytes({ssl, Peer}, 9, [])),
    ok = ssl:send(Peer, "QUIT"),
    ?note(recv, M:recv(S, 4, ?WAIT)),
    ?note(close, M:close(S)),
    ?note(peer_sees, ssl:recv(Peer, 0, ?WAIT)),
    ?note(tcp, closes(TcpS, ?WAIT)),
    ?note(peer_tcp, closes(Tcp, ?WAIT)).

%% A client that sends the line but never speaks TLS.
handshake_timeout(#{mod := M} = C) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(ssl, Port, fun(Tcp) -> {ok, Tcp} end),
    TcpS = plaintext(L),
    ?note(handshake, M:handshake(TcpS, conf:server(C), 300)),
    ?note(tcp, closes(TcpS, ?WAIT)),
    {{ok, Tcp}, Tcp, _} = conf:await(Client),
    ?note(client_sees, gen_tcp:recv(Tcp, 0, ?WAIT)).

%% Only the gen_tcp socket's owner may upgrade it.
not_owner(#{mod := M}) ->
    {L, Port} = conf:tcp_listen(),
    Tcp = conf:tcp_connect(Port),
    _TcpS = conf:tcp_accept(L),
    Other = conf:async(fun() -> M:connect(Tcp, [], ?WAIT) end),
    %% What becomes of the socket is not compared: OTP's ssl closes it (gen_tcp:close from the
    %% process that failed to take it over), and whether it is closed yet when connect has
    %% returned depends on timing.
    ?note(connect, conf:await(Other)).

%% Options refused before the upgrade begins leave the socket with its owner.
options_refused(#{mod := M}) ->
    {L, Port} = conf:tcp_listen(),
    Tcp = conf:tcp_connect(Port),
    _TcpS = conf:tcp_accept(L),
    ?note(connect, M:connect(Tcp, [{verify, verify_peer}], ?WAIT)),
    ?note(tcp, tcp_state(Tcp)),
    ?note(send, gen_tcp:send(Tcp, <<"still plain">>)).

%%% The two ends

%% {S, Server, Tcp}: M's TLS socket upgraded with Options from the gen_tcp socket Tcp (passive,
%% binary), OTP's ssl on the other end (passive, binary).
upgraded(#{mod := M} = C, Options) ->
    {L, Port} = conf:tcp_listen(),
    Client = client(M, Port, fun(Tcp) -> M:connect(Tcp, Options, ?WAIT) end),
    Server = server(C, L),
    {{ok, S}, Tcp, _} = conf:await(Client),
    {S, Server, Tcp}.

%% The STARTTLS client in a process of its own: a gen_tcp connection, passive and binary, the
%% line sent and its answer read, then Upgrade(Tcp). {Result, Tcp, the TCP socket's state right
%% after}, a TLS socket handed to the caller.
client(M, Port, Upgrade) ->
    Parent = self(),
    conf:async(fun() ->
                       Tcp = conf:tcp_connect(Port),
                       ok = gen_tcp:send(Tcp, <<"STARTTLS\r\n">>),
                       {ok, <<"OK\r\n">>} = gen_tcp:recv(Tcp, 4, ?WAIT),
                       Result = Upgrade(Tcp),
                       State = tcp_state(Tcp),
                       case Result of
                           {ok, Tcp} -> ok = gen_tcp:controlling_process(Tcp, Parent);
                           {ok, S} -> ok = M:controlling_process(S, Parent);
                           _ -> ok
                       end,
                       {Result, Tcp, State}
               end).

%% The server's side: the line read and answered, then OTP's ssl on the same connection.
server(C, L) ->
    TcpS = plaintext(L),
    {ok, Server} = ssl:handshake(TcpS, conf:server(C) ++ [binary, {active, false}], ?WAIT),
    Server.

plaintext(L) ->
    TcpS = conf:tcp_accept(L),
    ok = gen_tcp:close(L),
    {ok, <<"STARTTLS\r\n">>} = gen_tcp:recv(TcpS, 10, ?WAIT),
    ok = gen_tcp:send(TcpS, <<"OK\r\n">>),
    TcpS.

octets({ok, Counts}) -> [{Name, N > 0} || {Name, N} <- Counts];
octets(Other) -> Other.

%% Whether the client's end of the TCP connection is still there (bytes it sent are skipped).
read_to_end(TcpS) ->
    case gen_tcp:recv(TcpS, 0, ?WAIT) of
        {ok, _} -> read_to_end(TcpS);
        {error, Reason} -> Reason
    end.

%% A failed upgrade's result, with what became of the TCP socket: OTP's ssl closes it as the
%% connection process it was given to ends, which can be a moment after the call has returned.
%% (Read in the client's process: its end would close a socket it still owns.)
failed(Result, Tcp) ->
    {Result, closes(Tcp, ?WAIT)}.

%% `closed' once the TCP socket is, `open' if it is still there after Ms milliseconds.
closes(Tcp, Ms) ->
    case tcp_state(Tcp) of
        open when Ms > 0 -> timer:sleep(10), closes(Tcp, Ms - 10);
        State -> State
    end.

tcp_state(Tcp) ->
    case erlang:port_info(Tcp, connected) of
        undefined -> closed;
        {connected, _} -> open
    end.
