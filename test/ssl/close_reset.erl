%% A native OTP ssl client sends many small records and then closes, in one of three ways; a
%% server socket of `ts_ssl', or of OTP's ssl under the 3.9 API (`ts_ssl_native'), takes them
%% with the same steps. The client runs over a TCP connection of its own so that it can ask its
%% kernel (TCP_INFO), just before it closes, what it received and left unread (Linux answers a
%% close with bytes unread with a reset) and what it was given and has not sent yet (a reset
%% discards that).
-module(close_reset).

-export([pair/5, run/2, client_trial/2, tcp_trial/0]).

-define(WAIT, 10000).
-define(SOL_TCP, 6).
-define(TCP_INFO, 11).

%% A connected pair, in a process of its own that run/2 drives (each evaluation of a test is a
%% process that ends): M's server socket in Mode, and the client, waiting to send Records
%% records of Size bytes. Mode: passive ({active, false}) or once ({packet, 1}, {active, once}).
pair(M, ServerOptions, Mode, Records, Size) ->
    Caller = self(),
    Owner = spawn(fun() -> owner(Caller, M, ServerOptions, Mode, records(Records, Size)) end),
    receive {Owner, ready} -> Owner after ?WAIT -> exit(no_pair) end.

%% The client sends its records, writes the file `Marker' (or not: none) and closes. Then the
%% server's owner reads until the end. How: #{acked := boolean(), close := Close, marker := _}.
%% `acked': the client first waits until its kernel has had every byte acknowledged. Close:
%% ssl (ssl:close/1: close_notify, FIN, a wait for the server's close), ssl_then_reset (the
%% same with a 200 ms wait, then a reset) or reset (a reset, no close_notify).
run(Owner, How) ->
    Owner ! {run, self(), How},
    receive {Owner, Outcome} -> Outcome after 3 * ?WAIT -> exit(no_outcome) end.

owner(Caller, M, ServerOptions, Mode, Records) ->
    {Own, Peer} = case Mode of
                      passive -> {[binary, {active, false}], []};
                      once -> {[binary, {packet, 1}, {active, once}], [{packet, 1}]}
                  end,
    {ok, L} = M:listen(0, [{ip, {127, 0, 0, 1}} | ServerOptions] ++ Own),
    {ok, {_, Port}} = M:sockname(L),
    Self = self(),
    Client = spawn_link(fun() -> client(Self, Port, Peer, Records) end),
    {ok, S} = M:transport_accept(L, ?WAIT),
    ok = M:ssl_accept(S, ?WAIT),
    ok = M:close(L),
    receive {Client, ready} -> ok after ?WAIT -> exit(client_not_ready) end,
    Caller ! {self(), ready},
    receive {run, From, How} -> ok end,
    Client ! {go, How},
    Facts = receive {Client, F} -> F after ?WAIT -> exit(client_hung) end,
    {Bytes, End} = read_all(M, Mode, S, []),
    _ = M:close(S),
    Expected = iolist_to_binary(Records),
    From ! {self(), Facts#{received => byte_size(Bytes), 'end' => End,
                           in_order => binary:longest_common_prefix([Bytes, Expected]) =:= byte_size(Bytes)}}.

records(N, Size) ->
    [binary:copy(<<(I rem 256)>>, Size) || I <- lists:seq(1, N)].

client(Owner, Port, Options, Records) ->
    {ok, T} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, C} = ssl:connect(T, [binary, {active, false}, {verify, verify_none} | Options], ?WAIT),
    Owner ! {self(), ready},
    receive {go, #{acked := Acked, close := Close, marker := Marker}} -> ok end,
    [ok = ssl:send(C, R) || R <- Records],
    Acked andalso wait_acked(T, ?WAIT div 10),
    Facts = facts(T),
    Marker =:= none orelse file:write_file(Marker, <<>>),
    case Close of
        ssl ->
            ok = ssl:close(C);
        ssl_then_reset ->
            ok = inet:setopts(T, [{linger, {true, 0}}]),
            ok = ssl:close(C, 200);
        reset ->
            ok = inet:setopts(T, [{linger, {true, 0}}]),
            ok = gen_tcp:close(T)
    end,
    Owner ! {self(), Facts}.

%% got: bytes the kernel received; unread: those the client never read; unsent: bytes it was
%% given and has not sent.
facts(T) ->
    {ok, [{recv_oct, Read}]} = inet:getstat(T, [recv_oct]),
    #{received := Received, notsent := NotSent} = tcp_info(T),
    #{got => Received, unread => Received - Read, unsent => NotSent}.

wait_acked(_T, 0) ->
    exit(client_data_never_acknowledged);
wait_acked(T, Tries) ->
    case tcp_info(T) of
        #{unacked := 0, notsent := 0} -> true;
        _ -> receive after 10 -> wait_acked(T, Tries - 1) end
    end.

%% struct tcp_info (linux/tcp.h): tcpi_unacked (segments sent and not acknowledged) at byte 24,
%% tcpi_bytes_received at 128, tcpi_notsent_bytes at 144.
tcp_info(T) ->
    {ok, [{raw, ?SOL_TCP, ?TCP_INFO, Info}]} = inet:getopts(T, [{raw, ?SOL_TCP, ?TCP_INFO, 148}]),
    <<_:24/binary, Unacked:32/native, _:100/binary, Received:64/native, _:8/binary, NotSent:32/native>> = Info,
    #{unacked => Unacked, received => Received, notsent => NotSent}.

read_all(M, passive, S, Acc) ->
    case M:recv(S, 0, ?WAIT) of
        {ok, Data} -> read_all(M, passive, S, [Data | Acc]);
        End -> {iolist_to_binary(lists:reverse(Acc)), End}
    end;
read_all(M, once, S, Acc) ->
    receive
        {ssl, S, Data} ->
            ok = M:setopts(S, [{active, once}]),
            read_all(M, once, S, [Data | Acc]);
        {ssl_error, S, Reason} ->
            receive {ssl_closed, S} -> ok after ?WAIT -> ok end,
            {iolist_to_binary(lists:reverse(Acc)), {ssl_error, Reason}};
        {ssl_closed, S} ->
            {iolist_to_binary(lists:reverse(Acc)), ssl_closed}
    after ?WAIT ->
        {iolist_to_binary(lists:reverse(Acc)), nothing}
    end.

%% The other way round: M's client sends 100 records to OTP's server, which sends session tickets
%% (ServerOptions), and closes; the server's owner reads only then.
client_trial(M, ServerOptions) ->
    {ok, L} = ssl:listen(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}, {versions, ['tlsv1.3']} | ServerOptions]),
    {ok, {_, Port}} = ssl:sockname(L),
    Records = records(100, 1),
    Owner = self(),
    Client = spawn_link(fun() ->
                                {ok, C} = M:connect({127, 0, 0, 1}, Port, [binary, {active, false}], ?WAIT),
                                [ok = M:send(C, R) || R <- Records],
                                ok = M:close(C),
                                Owner ! {self(), closed}
                        end),
    {ok, T} = ssl:transport_accept(L, ?WAIT),
    {ok, S} = ssl:handshake(T, ?WAIT),
    ok = ssl:close(L),
    receive {Client, closed} -> ok after ?WAIT -> exit(client_hung) end,
    {Bytes, End} = read_all(ssl, passive, S, []),
    ok = ssl:close(S),
    {Bytes =:= iolist_to_binary(Records), byte_size(Bytes), End}.

%% Plain TCP, the same shape: the server sends 500 bytes that the client never reads, the client
%% sends 100 one-byte packets at once and closes (a reset), and the server reads only then.
tcp_trial() ->
    {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    Owner = self(),
    Client = spawn_link(fun() ->
                                {ok, C} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
                                receive go -> ok end,
                                [ok = gen_tcp:send(C, <<I>>) || I <- lists:seq(1, 100)],
                                Facts = facts(C),
                                ok = gen_tcp:close(C),
                                Owner ! {self(), Facts}
                        end),
    {ok, S} = gen_tcp:accept(L),
    ok = gen_tcp:close(L),
    ok = inet:setopts(S, [{show_econnreset, true}]),
    ok = gen_tcp:send(S, binary:copy(<<0>>, 500)),
    true = wait_acked(S, ?WAIT div 10),
    Client ! go,
    Facts = receive {Client, F} -> F after ?WAIT -> exit(client_hung) end,
    {Bytes, End} = tcp_read(S, <<>>),
    ok = gen_tcp:close(S),
    Facts#{received => byte_size(Bytes), 'end' => End}.

tcp_read(S, Acc) ->
    case gen_tcp:recv(S, 0, ?WAIT) of
        {ok, B} -> tcp_read(S, <<Acc/binary, B/binary>>);
        End -> {Acc, End}
    end.
