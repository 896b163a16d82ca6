%% The ssl 3.9 API against a native ssl peer: ts_ssl and native ssl, each on one end of a
%% connection whose other end is OTP's ssl in this node.
%%
%% Groups `native' and `ts_ssl' run the same scenarios with the 3.9 API over this OTP's own ssl
%% (ts_ssl_native, the behaviour ts_ssl_api) and with ts_ssl through the bridge named by
%% TS_SSL_BRIDGE, so that each scenario is seen to hold for a real ssl before it judges ts_ssl.
%% They are what needs the native peer: data both ways between the two implementations, the
%% bytes on the wire, flow control, large transfers, what both ends say about one connection.
%% The socket's own rules (modes, options, owners, closing, timeouts) are compared with OTP's
%% ssl scenario by scenario in test/conformance/scenarios; what only ssl 3.9 says (its options and
%% defaults, reasons, owner rules, openssl peers) is in ts_ssl_39_SUITE. Without TS_SSL_BRIDGE
%% only `native' runs.
-module(ts_ssl_SUITE).

-include_lib("common_test/include/ct.hrl").
-include("ts_ssl_test.hrl").

-compile([export_all, nowarn_export_all]).

-import(ts_ssl_peers, [async/1, await/1, wait_until/1, waiting_for_reply/1,
                       native_listen/1, native_accept/1, native_connect/2, native_run/2]).
-import(ts_ssl_conn, [mod/1, certs/1, file/2, server_options/1, client_options/1, ca/1, port/2,
                      pair/3, pair/4, exchange/3, next_message/1, chunks/2, hash_passive/3,
                      hash_active/2]).

-define(MiB, (1024 * 1024)).

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    case os:getenv("TS_SSL_BRIDGE") of
        false -> [{group, native}];
        _ -> [{group, native}, {group, ts_ssl}]
    end.

groups() ->
    [{native, [], scenarios()},
     {ts_ssl, [], scenarios()}].

scenarios() ->
    [connect_and_exchange, accept_and_exchange, transport_accept_then_ssl_accept,
     active_packets_keep_their_bounds, packet_raw, packet_1_2_4, packet_empty,
     recv_timeout_keeps_what_came, accept_timeout_without_handshake, setopts_by_non_owner,
     connection_info_agrees, client_certificate_on_connect, client_key_with_password,
     close_listen_socket, acceptor_exit_closes, two_acceptors_on_one_listen_socket,
     controlling_process_lets_creator_go, sent_bytes_as_gen_tcp_sends_them,
     send_waits_for_the_peer_to_read, ten_mib_each_way, ten_mib_each_way_as_server].

init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(ssl),
    ok = ts_ssl:start(),
    [{certs, ts_ssl_certs:make(filename:join(?config(priv_dir, Config), ?MODULE))} | Config].

end_per_suite(_Config) ->
    ok.

init_per_group(native, Config) ->
    [{mod, ts_ssl_native} | Config];
init_per_group(ts_ssl, Config) ->
    [{mod, ts_ssl} | Config].

end_per_group(_, _Config) ->
    ok.

%%% Connecting, accepting, exchanging

connect_and_exchange(Config) ->
    {S, Peer} = pair(Config, client, [binary, {active, false}]),
    exchange(mod(Config), S, Peer).

accept_and_exchange(Config) ->
    {S, Peer} = pair(Config, server, [binary, {active, false}]),
    exchange(mod(Config), S, Peer).

%% Without and with a Timeout.
transport_accept_then_ssl_accept(Config) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config) ++ [binary, {active, false}]),
    First = native_connect(port(Mod, Listen), []),
    {ok, S1} = Mod:transport_accept(Listen),
    ok = Mod:ssl_accept(S1),
    {ok, Peer1} = await(First),
    ok = exchange(Mod, S1, Peer1),
    Second = native_connect(port(Mod, Listen), []),
    {ok, S2} = Mod:transport_accept(Listen, ?WAIT),
    ok = Mod:ssl_accept(S2, ?WAIT),
    {ok, Peer2} = await(Second),
    exchange(Mod, S2, Peer2).

active_packets_keep_their_bounds(Config) ->
    {S, Peer} = pair(Config, server, [{packet, 2}], [{packet, 2}]),
    ok = ssl:send(Peer, <<"ab">>),
    ok = ssl:send(Peer, <<"cd">>),
    "ab" = next_message(S),
    "cd" = next_message(S).

%% A recv(S, N, Timeout) that times out with fewer than N bytes in takes none of them: the next
%% recv gets them, as gen_tcp's does (3.9 read through a gen_tcp socket). Raw list mode, where
%% the manual lets Length be positive.
recv_timeout_keeps_what_came(Config) ->
    Mod = mod(Config),
    {S, Peer} = pair(Config, client, [{active, false}]),
    ok = ssl:send(Peer, <<"abcd">>),
    %% One TLS record: once its first byte has been read, the other three are in.
    {ok, "a"} = Mod:recv(S, 1, ?WAIT),
    {error, timeout} = Mod:recv(S, 5, 100),
    ok = ssl:send(Peer, <<"ef">>),
    {ok, "bcdef"} = Mod:recv(S, 5, ?WAIT).

%% The manual's warning on accept/1,2: a client that connects and never starts the handshake
%% "can hang the server". With a Timeout, accept/2 gives {error, timeout}, and the listen socket
%% goes on accepting.
accept_timeout_without_handshake(Config) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config) ++ [binary, {active, false}]),
    {ok, _Silent} = gen_tcp:connect({127, 0, 0, 1}, port(Mod, Listen), []),
    {error, timeout} = Mod:accept(Listen, 200),
    Native = native_connect(port(Mod, Listen), []),
    {ok, S} = Mod:accept(Listen, ?WAIT),
    {ok, Peer} = await(Native),
    exchange(Mod, S, Peer).

packet_raw(Config) ->
    Mod = mod(Config),
    {S, Peer} = pair(Config, server, [binary, {active, false}, {packet, raw}]),
    ok = ssl:send(Peer, <<"abcdef">>),
    {ok, <<"abc">>} = Mod:recv(S, 3),
    {ok, <<"def">>} = Mod:recv(S, 3).

%% Each packet arrives whole, both ways, at the limits of its length field.
packet_1_2_4(Config) ->
    Mod = mod(Config),
    [begin
         {S, Peer} = pair(Config, server, [binary, {active, false}, {packet, N}],
                          [{packet, N}]),
         [begin
              Data = crypto:strong_rand_bytes(Size),
              ok = ssl:send(Peer, Data),
              {ok, Data} = Mod:recv(S, 0),
              ok = Mod:send(S, Data),
              {ok, Data} = ssl:recv(Peer, 0, ?WAIT)
          end || Size <- packet_sizes(N)]
     end || N <- [1, 2, 4]],
    ok.

packet_sizes(1) -> [1, 254, 255];
packet_sizes(2) -> [1, 255, 256, 65535];
packet_sizes(4) -> [1, 65535, 65536, 300000].

packet_empty(Config) ->
    Mod = mod(Config),
    {S, Peer} = pair(Config, server, [binary, {active, false}, {packet, 2}], [{packet, 2}]),
    ok = Mod:send(S, <<>>),
    ok = Mod:send(S, <<"after">>),
    {ok, <<>>} = ssl:recv(Peer, 0, ?WAIT),
    {ok, <<"after">>} = ssl:recv(Peer, 0, ?WAIT),
    ok = ssl:send(Peer, <<>>),
    {ok, <<>>} = Mod:recv(S, 0).

%% setopts/2 works from any process, as inet's does, but the socket's messages still go to its
%% owner, the controlling process that "receives all messages from the socket".
setopts_by_non_owner(Config) ->
    Mod = mod(Config),
    {S, Peer} = pair(Config, server, [binary, {packet, 2}, {active, false}], [{packet, 2}]),
    Stranger = async(fun() -> Mod:setopts(S, [{active, once}]) end),
    ok = await(Stranger),
    {ok, [{active, once}]} = Mod:getopts(S, [active]),
    ok = ssl:send(Peer, <<"for the owner">>),
    <<"for the owner">> = next_message(S).

%% Protocol and cipher as the peer sees them; the cipher in OpenSSL's name.
connection_info_agrees(Config) ->
    Mod = mod(Config),
    {S, Peer} = pair(Config, client, []),
    {ok, {Protocol, Cipher}} = Mod:connection_info(S),
    {ok, {Protocol, Cipher}} = ts_ssl_native:connection_info(Peer),
    true = lists:member(Protocol, ['tlsv1.2', 'tlsv1.3']).

%% {certfile, _} and {keyfile, _} given to connect: the client's certificate, which a server
%% that requires one (3.9's {verify, 2}) checks against its CA and sees as the peer's.
client_certificate_on_connect(Config) ->
    {S, Peer} = pair(Config, client, [binary, {active, false} | client_options(Config)],
                     requires_client_certificate(Config)),
    Der = ts_ssl_certs:der(certs(Config), "client.pem"),
    {ok, Der} = ssl:peercert(Peer),
    exchange(mod(Config), S, Peer).

%% The manual's {password, String}: "Only used if the private keyfile is password protected".
client_key_with_password(Config) ->
    #{password := Password} = certs(Config),
    Options = [{certfile, file(Config, "client.pem")},
               {keyfile, file(Config, "client_encrypted.key")}, {password, Password}],
    {S, Peer} = pair(Config, client, [binary, {active, false} | Options],
                     requires_client_certificate(Config)),
    Der = ts_ssl_certs:der(certs(Config), "client.pem"),
    {ok, Der} = ssl:peercert(Peer),
    exchange(mod(Config), S, Peer).

%% A native server that refuses a client without a certificate its CA issued.
requires_client_certificate(Config) ->
    [{verify, verify_peer}, {fail_if_no_peer_cert, true} | ca(Config)].

close_listen_socket(Config) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config)),
    Port = port(Mod, Listen),
    ok = Mod:close(Listen),
    {error, closed} = Mod:transport_accept(Listen),
    {error, econnrefused} = gen_tcp:connect({127, 0, 0, 1}, Port, []).

%% The owner of an accepted socket is the caller of transport_accept (or accept).
acceptor_exit_closes(Config) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config)),
    Native = native_connect(port(Mod, Listen), []),
    Acceptor = async(fun() -> {ok, _S} = Mod:accept(Listen), accepted end),
    accepted = await(Acceptor),
    {ok, Peer} = await(Native),
    {error, closed} = ssl:recv(Peer, 0, ?WAIT).

%% Two processes wait in transport_accept/1 on one listen socket before any client comes: each
%% gets a connection of its own.
two_acceptors_on_one_listen_socket(Config) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config) ++ [binary, {active, false}]),
    Parent = self(),
    Acceptors = [spawn_link(fun() ->
                                    {ok, S} = Mod:transport_accept(Listen),
                                    ok = Mod:ssl_accept(S, ?WAIT),
                                    ok = Mod:controlling_process(S, Parent),
                                    Parent ! {self(), S}
                            end)
                 || _ <- [1, 2]],
    wait_until(fun() -> lists:all(fun ts_ssl_peers:waiting/1, Acceptors) end),
    Clients = [native_connect(port(Mod, Listen), []) || _ <- [1, 2]],
    Accepted = [receive {A, S} -> S after ?WAIT -> ct:fail({no_connection_for, A}) end
                || A <- Acceptors],
    Peers = [begin {ok, P} = await(C), P end || C <- Clients],
    %% Each accepted socket is the other end of one client, and carries its data.
    ByName = maps:from_list([begin {ok, Name} = ssl:sockname(P), {Name, P} end || P <- Peers]),
    Names = lists:sort(maps:keys(ByName)),
    Names = lists:sort([begin {ok, Name} = Mod:peername(S), Name end || S <- Accepted]),
    [begin
         {ok, Name} = Mod:peername(S),
         ok = exchange(Mod, S, maps:get(Name, ByName))
     end || S <- Accepted],
    ok.

%% Once it has given the socket away, the creator may go.
controlling_process_lets_creator_go(Config) ->
    Mod = mod(Config),
    {Listen, Port} = native_listen(server_options(Config)),
    Native = native_accept(Listen),
    Parent = self(),
    {Creator, Monitor} =
        spawn_monitor(fun() ->
                              {ok, S} = Mod:connect("127.0.0.1", Port, [binary, {active, false}]),
                              ok = Mod:controlling_process(S, Parent),
                              Parent ! {socket, S}
                      end),
    S = receive {socket, Given} -> Given after ?WAIT -> ct:fail(no_socket) end,
    receive {'DOWN', Monitor, process, Creator, normal} -> ok end,
    {ok, Peer} = await(Native),
    exchange(Mod, S, Peer).

%% send/2 puts on the wire what gen_tcp:send/2 puts there with the same packet option (3.9 sent
%% through a gen_tcp socket): a length header for 1, 2 and 4,
%% the bytes as they are for the other types ({packet, line} adds no delimiter). The native peer
%% reads the stream raw, up to the close.
sent_bytes_as_gen_tcp_sends_them(Config) ->
    Mod = mod(Config),
    Data = <<"GET / HTTP/1.0\r\nHost: x\r\n\r\na line\nno end">>,
    [begin
         {S, Peer} = pair(Config, client, [binary, {active, false}, {packet, Type}]),
         ok = Mod:send(S, Data),
         ok = Mod:close(S),
         Wire = raw_stream(fun(Wait) -> ssl:recv(Peer, 0, Wait) end, ?WAIT),
         {Type, Wire} = {Type, gen_tcp_wire(Type, Data)}
     end || Type <- [raw, 0, 1, 2, 4, line, asn1, cdr, sunrm, fcgi, tpkt, http, httph,
                     http_bin, httph_bin]],
    ok.

%% What gen_tcp:send/2 of Data on a socket with {packet, Type} puts on the wire.
gen_tcp_wire(Type, Data) ->
    {ok, Listen} = gen_tcp:listen(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(Listen),
    {ok, Sender} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {packet, Type}]),
    {ok, Receiver} = gen_tcp:accept(Listen, ?WAIT),
    ok = gen_tcp:send(Sender, Data),
    ok = gen_tcp:close(Sender),
    ok = gen_tcp:close(Listen),
    raw_stream(fun(Wait) -> gen_tcp:recv(Receiver, 0, Wait) end, ?WAIT).

%% Everything a passive raw socket reads until the other end closes.
raw_stream(Recv, Wait) ->
    raw_stream(Recv, Wait, []).

raw_stream(Recv, Wait, Acc) ->
    case Recv(Wait) of
        {ok, Bytes} -> raw_stream(Recv, Wait, [Acc, Bytes]);
        {error, closed} -> iolist_to_binary(Acc)
    end.

%% send/2 answers once its data is on its way, so it waits while the peer reads nothing and the
%% data cannot all be buffered: 64 MiB is more than the socket buffers of both ends hold (a few
%% MiB each on Linux, and a receive buffer grows only as its reader reads). Once the peer reads,
%% send/2 returns, and the peer has every byte.
send_waits_for_the_peer_to_read(Config) ->
    Mod = mod(Config),
    Size = 64 * ?MiB,
    {S, Peer} = pair(Config, client, [binary, {active, false}]),
    Data = crypto:strong_rand_bytes(Size),
    Parent = self(),
    Sender = spawn_link(fun() -> Parent ! {self(), Mod:send(S, Data)} end),
    %% Once the sender waits for its reply, its request has gone out whole. This call's request
    %% goes out after it, so a send answered without waiting for the peer would have been
    %% answered before this call returns.
    wait_until(fun() -> waiting_for_reply(Sender) end),
    {ok, [{active, false}]} = Mod:getopts(S, [active]),
    true = waiting_for_reply(Sender),
    receive {Sender, Early} -> ct:fail({send_returned_unread, Early}) after 0 -> ok end,
    Reader = native_run(Peer, fun(P) -> hash_passive(ssl, P, Size) end),
    Hash = crypto:hash(sha256, Data),
    Hash = await(Reader),
    receive {Sender, Sent} -> ok = Sent after ?WAIT -> ct:fail(send_never_returned) end.

%% 10 MiB each way, checked with SHA-256: passive from us, active towards us.
ten_mib_each_way(Config) ->
    Mod = mod(Config),
    Size = 10 * ?MiB,
    {S, Peer} = pair(Config, client, [binary, {active, false}]),
    Out = crypto:strong_rand_bytes(Size),
    Reader = native_run(Peer, fun(P) -> hash_passive(ssl, P, Size) end),
    [ok = Mod:send(S, Chunk) || Chunk <- chunks(Out, 65536)],
    Expected = crypto:hash(sha256, Out),
    Expected = await(Reader),
    In = crypto:strong_rand_bytes(Size),
    Writer = native_run(Peer, fun(P) -> [ok = ssl:send(P, C) || C <- chunks(In, 65536)], sent end),
    ok = Mod:setopts(S, [{active, true}]),
    InHash = crypto:hash(sha256, In),
    InHash = hash_active(S, Size),
    sent = await(Writer).

%% The same with the API under test accepting, and passive both ways.
ten_mib_each_way_as_server(Config) ->
    Mod = mod(Config),
    Size = 10 * ?MiB,
    {S, Peer} = pair(Config, server, [binary, {active, false}]),
    Out = crypto:strong_rand_bytes(Size),
    Reader = native_run(Peer, fun(P) -> hash_passive(ssl, P, Size) end),
    [ok = Mod:send(S, Chunk) || Chunk <- chunks(Out, 65536)],
    OutHash = crypto:hash(sha256, Out),
    OutHash = await(Reader),
    In = crypto:strong_rand_bytes(Size),
    Writer = native_run(Peer, fun(P) -> [ok = ssl:send(P, C) || C <- chunks(In, 65536)], sent end),
    InHash = crypto:hash(sha256, In),
    InHash = hash_passive(Mod, S, Size),
    sent = await(Writer).
