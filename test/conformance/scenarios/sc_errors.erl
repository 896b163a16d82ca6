%% The errors a caller can provoke: options, files, sockets of the wrong kind, addresses.
-module(sc_errors).

-include("conf.hrl").

-export([listen_empty_options/1, listen_unknown_option/1, connect_unknown_option/1,
         option_that_is_not_a_tuple/1, backlog_is_for_listen/1, bad_option_values/1,
         bad_setopts_values/1,
         setopts_ssl_option/1, connection_refused/1, no_such_host/1, missing_certfile/1,
         corrupt_certfile/1, missing_keyfile/1, corrupt_keyfile/1, key_not_matching/1,
         password_protected_key/1, wrong_password/1, certificate_for_x25519_key/1,
         missing_cacertfile/1, bad_ciphers/1,
         accept_on_connected_socket/1, ssl_accept_on_listen_socket/1,
         send_on_listen_socket/1, listen_without_certificate/1, non_tls_client/1,
         non_tls_server/1, not_a_socket/1, connect_to_bad_port/1, getopts_unknown_tag/1,
         controlling_process_to_dead_pid/1]).

listen_empty_options(#{mod := M}) ->
    ?note(listen, M:listen(0, [])).

listen_unknown_option(#{mod := M} = C) ->
    ?note(listen, M:listen(0, [{no_such_option, 1} | conf:server(C)])).

connect_unknown_option(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    _ = conf:peer_accept(L),
    ?note(connect, M:connect("localhost", Port, [{no_such_option, 1}])).

option_that_is_not_a_tuple(#{mod := M} = C) ->
    ?note(listen, M:listen(0, [not_an_option | conf:server(C)])).

%% "The socket option {backlog, integer()} is for listen/2 only" (manual).
backlog_is_for_listen(#{mod := M} = C) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    _ = conf:peer_accept(L),
    ?note(connect_with_backlog, M:connect("localhost", Port, [{backlog, 5}], ?WAIT)).

bad_option_values(#{mod := M} = C) ->
    [?note(Option, M:listen(0, [Option | conf:server(C)]))
     || Option <- [{mode, text}, {active, maybe}, {verify, 3}, {nodelay, 1}]],
    ok.

bad_setopts_values(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    [?note(Option, M:setopts(Client, [Option]))
     || Option <- [{mode, text}, {packet, bogus}, {active, maybe}, {nodelay, 1}]],
    ?note(unchanged, M:getopts(Client, [mode, packet, active, nodelay])).

%% ssl options are for connect and listen, not setopts.
setopts_ssl_option(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(certfile, M:setopts(Client, [{certfile, conf:file(C, "server.pem")}])),
    ?note(depth, M:setopts(Client, [{depth, 3}])).

connection_refused(#{mod := M}) ->
    {Listen, Port} = conf:tcp_listen(),
    ok = gen_tcp:close(Listen),
    ?note(connect, M:connect("localhost", Port, [])).

no_such_host(#{mod := M}) ->
    ?note(connect, M:connect("no-such-host.invalid", 443, [], ?WAIT)).

%% A server whose own certificate or key cannot be used: refused at listen (3.9), or when a
%% client comes (modern OTP). Either way no client gets a connection. One step: what listen
%% said, and what a client got.
bad_server_files(#{mod := M} = C, Options) ->
    Listen = M:listen(0, [{active, false} | Options]),
    Client = case Listen of
                 {ok, L} ->
                     Connecting = conf:peer_connect(C, conf:port(M, L)),
                     _ = (catch M:accept(L, ?WAIT)),
                     %% A server that cannot finish its handshake leaves the client to see the
                     %% connection close or its own wait run out, whichever comes first (with
                     %% OTP's ssl, either, from run to run): both are a refusal.
                     case conf:await(Connecting) of
                         {error, _} -> refused;
                         Connected -> Connected
                     end;
                 _ ->
                     no_listen_socket
             end,
    ?note(listen_then_client, {Listen, Client}).

missing_certfile(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "missing.pem")},
                         {keyfile, conf:file(C, "server.key")}]).

corrupt_certfile(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "corrupt.pem")},
                         {keyfile, conf:file(C, "server.key")}]).

missing_keyfile(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "server.pem")},
                         {keyfile, conf:file(C, "missing.key")}]).

corrupt_keyfile(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "server.pem")},
                         {keyfile, conf:file(C, "corrupt.key")}]).

key_not_matching(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "server.pem")},
                         {keyfile, conf:file(C, "client.key")}]).

wrong_password(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "server.pem")},
                         {keyfile, conf:file(C, "server_encrypted.key")},
                         {password, "not it"}]).

%% A certificate for an X25519 key, which agrees keys and cannot sign: TLS has no use for it.
certificate_for_x25519_key(C) ->
    bad_server_files(C, [{certfile, conf:file(C, "x25519.pem")},
                         {keyfile, conf:file(C, "x25519.key")}]).

missing_cacertfile(C) ->
    bad_server_files(C, [{cacertfile, conf:file(C, "missing.pem")} | conf:server(C)]).

bad_ciphers(#{mod := M} = C) ->
    ?note(listen, M:listen(0, [{ciphers, "NO-SUCH-CIPHER"} | conf:server(C)])).

%% {password, _} opens an encrypted key; the connection then works as any other.
password_protected_key(#{mod := M} = C) ->
    {ok, L} = ?note(listen, M:listen(0, [{certfile, conf:file(C, "server.pem")},
                                         {keyfile, conf:file(C, "server_encrypted.key")},
                                         {password, conf:password(C)}, {active, false}])),
    Client = conf:peer_connect(C, conf:port(M, L)),
    {ok, S} = ?note(accept, M:accept(L, ?WAIT)),
    {ok, P} = conf:await(Client),
    ok = conf:peer_send(P, "x"),
    ?note(recv, M:recv(S, 0, ?WAIT)).

accept_on_connected_socket(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(transport_accept, M:transport_accept(Client, 100)),
    ?note(accept, M:accept(Client, 100)).

ssl_accept_on_listen_socket(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(ssl_accept, M:ssl_accept(L, 100)).

send_on_listen_socket(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    ?note(send, M:send(L, "x")),
    ?note(recv, M:recv(L, 0, 100)),
    ?note(peername, M:peername(L)).

%% No certfile: the listen socket is made, and accepting a client fails. (What the client then
%% sees depends on when 3.9's accept gives up, before or after its connection: not compared.)
listen_without_certificate(#{mod := M} = C) ->
    {ok, L} = ?note(listen, M:listen(0, [{active, false}])),
    _ = conf:peer_connect(C, conf:port(M, L)),
    conf:pause(),
    ?note(accept, M:accept(L, ?WAIT)).

%% Not TLS on a TLS listen socket: the handshake fails; nothing hangs.
non_tls_client(#{mod := M} = C) ->
    {ok, L} = M:listen(0, conf:server(C)),
    Tcp = conf:tcp_connect(conf:port(M, L)),
    ok = gen_tcp:send(Tcp, <<"GET / HTTP/1.0\r\n\r\n">>),
    {ok, S} = ?note(transport_accept, M:transport_accept(L, ?WAIT)),
    ?note(ssl_accept, M:ssl_accept(S, ?WAIT)).

%% A server that answers the client's hello with something that is not TLS. (What the client
%% then writes to it, an alert or nothing, is not compared: the server is not a TLS peer.)
non_tls_server(#{mod := M}) ->
    {Listen, Port} = conf:tcp_listen(),
    _ = conf:async(fun() ->
                           S = conf:tcp_accept(Listen),
                           {ok, _Hello} = gen_tcp:recv(S, 0, ?WAIT),
                           ok = gen_tcp:send(S, <<"HTTP/1.0 400 Bad Request\r\n\r\n">>),
                           gen_tcp:recv(S, 0, ?WAIT)
                   end),
    ?note(connect, M:connect("localhost", Port, [], ?WAIT)).

not_a_socket(#{mod := M}) ->
    ?note(send, M:send(not_a_socket, "x")),
    ?note(recv, M:recv({sslsocket, nothing, nothing}, 0)),
    ?note(close, M:close(make_ref())).

connect_to_bad_port(#{mod := M}) ->
    ?note(negative, M:connect("localhost", -1, [], 1000)),
    ?note(too_large, M:connect("localhost", 70000, [], 1000)).

getopts_unknown_tag(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(getopts, M:getopts(Client, [no_such_option])).

%% A socket handed to a process that is gone has an owner that is gone: it closes, and the other
%% end sees the close. (Nothing is sent to it: whether a send still finds it open is timing.)
controlling_process_to_dead_pid(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}]),
    {Dead, Monitor} = spawn_monitor(fun() -> ok end),
    receive {'DOWN', Monitor, process, Dead, _} -> ok end,
    ?note(controlling_process, M:controlling_process(Server, Dead)),
    ?note(client_sees, conf:next(Client)),
    ?note(here, conf:next(Server, 100)).
