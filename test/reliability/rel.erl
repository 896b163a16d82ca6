%% What the reliability tests run on their erl nodes: native OTP ssl peers (echo, sink, source,
%% a peer that never reads), ts_ssl owners that report what they see to a collector, and
%% transfers that hash what they send and what they receive.
-module(rel).
-compile([export_all, nowarn_export_all]).

-define(WAIT, 20000).

%%% Collecting reports

%% A process that keeps every message it gets; take/1 answers them in order of arrival.
collector() ->
    spawn(fun() -> collect([]) end).

collect(Acc) ->
    receive
        {take, From} -> From ! {taken, lists:reverse(Acc)}, collect(Acc);
        stop -> ok;
        M -> collect([M | Acc])
    end.

take(Col) ->
    Col ! {take, self()},
    receive {taken, L} -> L after ?WAIT -> exit(collector_silent) end.

%% The reports of Col tagged Tag.
reports(Col, Tag) ->
    [R || {T, R} <- take(Col), T =:= Tag].

%% Polls Pred every 20 ms until it is true; exits after Ms.
wait_until(Pred, Ms) when Ms =< 0 -> Pred() orelse exit(wait_until_timeout);
wait_until(Pred, Ms) ->
    case Pred() of
        true -> ok;
        false -> timer:sleep(20), wait_until(Pred, Ms - 20)
    end.

%%% Native peers

%% A native ssl server on 127.0.0.1 taking connections until its acceptor is told `stop';
%% each connection, once its handshake is done, runs Handler(Socket) in a process of its own.
server(Credentials, Handler) ->
    {ok, _} = application:ensure_all_started(ssl),
    {ok, L} = ssl:listen(0, [binary, {active, false}, {reuseaddr, true}, {ip, {127, 0, 0, 1}},
                             {backlog, 1024} | Credentials]),
    {ok, {_, Port}} = ssl:sockname(L),
    Acceptor = spawn(fun() -> accept_loop(L, Handler) end),
    ok = ssl:controlling_process(L, Acceptor),
    {Port, Acceptor}.

accept_loop(L, Handler) ->
    case ssl:transport_accept(L, 1000) of
        {ok, T} ->
            W = spawn(fun() ->
                              receive {go, T} -> ok end,
                              case ssl:handshake(T, ?WAIT) of
                                  {ok, S} -> Handler(S);
                                  _ -> ok
                              end
                      end),
            ok = ssl:controlling_process(T, W),
            W ! {go, T};
        {error, timeout} -> ok;
        {error, closed} -> exit(normal)
    end,
    receive stop -> ssl:close(L) after 0 -> accept_loop(L, Handler) end.

%% Echoes until the peer closes.
echo(S) ->
    case ssl:recv(S, 0) of
        {ok, D} -> ssl:send(S, D), echo(S);
        {error, _} -> ssl:close(S)
    end.

%% Reads until the end, then tells Col `{sink, {PeerPort, How, Bytes}}': How is closed for a
%% clean end, else the error.
sink(Col) ->
    fun(S) ->
            {ok, {_, PeerPort}} = ssl:peername(S),
            {How, Bytes} = sink_loop(S, []),
            Col ! {sink, {PeerPort, How, Bytes}}
    end.

sink_loop(S, Acc) ->
    case ssl:recv(S, 0) of
        {ok, D} -> sink_loop(S, [D | Acc]);
        {error, How} -> {How, iolist_to_binary(lists:reverse(Acc))}
    end.

%% Sends 16 KiB records as fast as the peer takes them, until the connection ends.
source(S) ->
    Chunk = crypto:strong_rand_bytes(16384),
    Loop = fun L() -> case ssl:send(S, Chunk) of ok -> L(); _ -> ok end end,
    Loop().

%% Never reads, holds the connection until it ends.
stall(S) ->
    ok = ssl:setopts(S, [{active, false}]),
    receive never -> S end.

%%% ts_ssl owners

%% A process that traps exits, runs Setup() and reports {ready, State}, then Block(State) and
%% reports {returned, Result}, then the first exit signal within 10 s: {exit, Msg | none}.
%% Reports go to Col tagged with Tag.
watched(Col, Tag, Setup, Block) ->
    spawn(fun() ->
                  process_flag(trap_exit, true),
                  State = Setup(),
                  Col ! {Tag, {ready, State}},
                  Col ! {Tag, {returned, Block(State)}},
                  Col ! {Tag, {exit, receive {'EXIT', _, _} = E -> E after 10000 -> none end}},
                  receive stop -> ok end
          end).

%% A process that runs Setup() (which may set up monitors, links, trap_exit), makes three Call(State)
%% and reports {ready, State, Results, Mailbox}; on `go' it makes one more and reports
%% {returned, Result, Milliseconds}, then, a second later, {mailbox, Messages}: what reached it
%% besides the calls' replies.
caller(Col, Tag, Setup, Call) ->
    spawn(fun() ->
                  State = Setup(),
                  Results = [Call(State) || _ <- lists:seq(1, 3)],
                  {messages, Before} = process_info(self(), messages),
                  Col ! {Tag, {ready, State, Results, Before}},
                  receive go -> ok end,
                  T0 = erlang:monotonic_time(millisecond),
                  Result = Call(State),
                  Col ! {Tag, {returned, Result, erlang:monotonic_time(millisecond) - T0}},
                  timer:sleep(1000),
                  {messages, After} = process_info(self(), messages),
                  Col ! {Tag, {mailbox, After}},
                  receive stop -> ok end
          end).

%% A socket connected to Port whose owner traps exits, so that it outlives the bridge: for
%% callers that must not be linked to the socket's process.
held(Port) ->
    Self = self(),
    spawn(fun() ->
                  process_flag(trap_exit, true),
                  {ok, S} = connect(Port, []),
                  Self ! {held, S},
                  receive stop -> ok end
          end),
    receive {held, S} -> S after ?WAIT -> exit(no_socket) end.

%% In {active, true}: takes data until anything else comes, which is returned.
active_loop(S) ->
    receive
        {ssl, S, _} -> active_loop(S);
        Other -> Other
    end.

%% Connects to 127.0.0.1:Port with ts_ssl.
connect(Port, Options) ->
    ts_ssl:connect({127, 0, 0, 1}, Port, [binary, {active, false} | Options], ?WAIT).

%% Owners (Owners processes) of N sockets in all, connected to Port; returns once all are up:
%% {ok, [Pid]} or the first failure. Each owner holds its sockets until told `stop'.
owners(Port, N, Owners) ->
    Self = self(),
    Pids = [spawn(fun() ->
                          Ss = [begin {ok, S} = connect(Port, []), S end
                                || _ <- lists:seq(1, N div Owners)],
                          Self ! {up, self()},
                          receive stop -> [ts_ssl:close(S) || S <- Ss] end
                  end) || _ <- lists:seq(1, Owners)],
    [receive {up, P} -> ok after 120000 -> exit(owners_not_up) end || P <- Pids],
    {ok, Pids}.

%%% Transfers

%% Random bytes, Size of them, made quickly: a random block repeated at random offsets.
random_bytes(Size) ->
    Block = crypto:strong_rand_bytes(65536),
    random_fill(Block, Size, []).

random_fill(_, 0, Acc) -> iolist_to_binary(Acc);
random_fill(Block, Left, Acc) ->
    N = min(Left, rand:uniform(65536)),
    Off = rand:uniform(65536 - N + 1) - 1,
    random_fill(Block, Left - N, [binary:part(Block, Off, N) | Acc]).

%% Sends Data through S (ts_ssl) in random chunks up to MaxChunk until a send fails; after each
%% `ok' reports to Col {acked, Bytes} with the count acknowledged so far. Returns the last result
%% and the count.
send_acked(S, Data, MaxChunk, Col, Tag) ->
    send_acked(S, Data, 0, MaxChunk, Col, Tag).

send_acked(_S, Data, Sent, _Max, _Col, _Tag) when Sent =:= byte_size(Data) -> {ok, Sent};
send_acked(S, Data, Sent, Max, Col, Tag) ->
    N = min(rand:uniform(Max), byte_size(Data) - Sent),
    case ts_ssl:send(S, binary:part(Data, Sent, N)) of
        ok ->
            Col ! {Tag, {acked, Sent + N}},
            send_acked(S, Data, Sent + N, Max, Col, Tag);
        Error -> {Error, Sent}
    end.

%% Whether the first Acked bytes of Data arrived whole, nothing after them but more of Data.
prefix_ok(Data, Acked, Received) ->
    byte_size(Received) >= Acked andalso byte_size(Received) =< byte_size(Data)
        andalso binary:part(Received, 0, byte_size(Received)) =:= binary:part(Data, 0, byte_size(Received)).

%%% Integrity: both ways at once, random chunk sizes, a packet type

%% The largest packet a packet type carries here, and a chunk limit for raw.
max_chunk(0) -> 262144;
max_chunk(1) -> 255;
max_chunk(2) -> 65535;
max_chunk(4) -> 262144.

%% Sends Size random bytes in random chunks through Send while Recv takes Size bytes; returns
%% {{SentHash, Sends}, {ReceivedHash, Receives}}.
both_ways(Send, Recv, Size, Max) ->
    Self = self(),
    Sender = spawn_link(fun() ->
                                Block = crypto:strong_rand_bytes(262144),
                                Self ! {sent, self(), send_random(Send, Block, Size, Max, crypto:hash_init(sha256), 0)}
                        end),
    R = recv_all(Recv, Size, crypto:hash_init(sha256), 0),
    receive {sent, Sender, S} -> {S, R} end.

send_random(_Send, _Block, 0, _Max, H, N) -> {crypto:hash_final(H), N};
send_random(Send, Block, Left, Max, H, N) ->
    Len = min(Left, rand:uniform(Max)),
    Chunk = binary:part(Block, rand:uniform(byte_size(Block) - Len + 1) - 1, Len),
    ok = Send(Chunk),
    send_random(Send, Block, Left - Len, Max, crypto:hash_update(H, Chunk), N + 1).

recv_all(_Recv, 0, H, N) -> {crypto:hash_final(H), N};
recv_all(Recv, Left, H, N) when Left > 0 ->
    {ok, D} = Recv(),
    recv_all(Recv, Left - byte_size(D), crypto:hash_update(H, D), N + 1).

%% The native end: a raw header <<Packet:8, Size:56>>, then both ways with that packet type;
%% reports {integrity, {Port, Result}} to Col, Port the peer's.
integrity_peer(Col) ->
    fun(S) ->
            {ok, {_, PeerPort}} = ssl:peername(S),
            {ok, <<Packet:8, Size:56>>} = ssl:recv(S, 8),
            ok = ssl:setopts(S, [{packet, Packet}]),
            R = both_ways(fun(D) -> ssl:send(S, D) end, fun() -> ssl:recv(S, 0) end, Size, max_chunk(Packet)),
            Col ! {integrity, {PeerPort, R}},
            receive after 60000 -> ok end
    end.

%% The ts_ssl end of integrity_peer/1: {Port, Packet, Result}, Port its own.
integrity(Port, Packet, Size) ->
    {ok, S} = connect(Port, []),
    {ok, {_, Own}} = ts_ssl:sockname(S),
    ok = ts_ssl:send(S, <<Packet:8, Size:56>>),
    ok = ts_ssl:setopts(S, [{packet, Packet}]),
    R = both_ways(fun(D) -> ts_ssl:send(S, D) end, fun() -> ts_ssl:recv(S, 0, 60000) end, Size, max_chunk(Packet)),
    ts_ssl:close(S),
    {Own, Packet, R}.

%% Whether each ts_ssl end's result mirrors its native peer's: what one sent the other received,
%% byte for byte (SHA-256) and, with a packet type, packet for packet.
mirrored(Results, Col) ->
    %% A native peer reports once it has read all, which may be after its ts_ssl end is done.
    Owns = [Own || {Own, _, _} <- Results],
    Reported = fun() -> maps:from_list(reports(Col, integrity)) end,
    wait_until(fun() -> lists:all(fun(Own) -> maps:is_key(Own, Reported()) end, Owns) end, ?WAIT),
    Peers = Reported(),
    lists:all(fun({Own, Packet, {{SentH, SentN}, {RecvH, RecvN}}}) ->
                      case maps:find(Own, Peers) of
                          {ok, {{PSentH, PSentN}, {PRecvH, PRecvN}}} ->
                              SentH =:= PRecvH andalso RecvH =:= PSentH
                                  andalso (Packet =:= 0 orelse (SentN =:= PRecvN andalso RecvN =:= PSentN));
                          error -> false
                      end;
                 ({failed, _}) -> false
              end, Results).

%% Runs integrity/3 on each {Packet, Size} at once; the results, {failed, Reason} for one that
%% crashed (monitored, not linked: a crash must come back as an answer, not end the caller).
integrity_all(Port, Specs) ->
    Ms = [spawn_monitor(fun() -> exit({result, integrity(Port, P, Size)}) end) || {P, Size} <- Specs],
    [receive
         {'DOWN', Ref, process, Pid, {result, R}} -> R;
         {'DOWN', Ref, process, Pid, Why} -> {failed, Why}
     end || {Pid, Ref} <- Ms].

%%% Churn

%% Total connect/close cycles to Port with ts_ssl, Parallel at a time; the failures (at most
%% 10 of each process), [] when there were none.
churn(Port, Total, Parallel) ->
    Ms = [spawn_monitor(fun() -> exit({errors, churn_loop(Port, Total div Parallel, [])}) end)
          || _ <- lists:seq(1, Parallel)],
    lists:append([receive
                       {'DOWN', Ref, process, Pid, {errors, Errors}} -> Errors;
                       {'DOWN', Ref, process, Pid, Why} -> [{crashed, Why}]
                   end || {Pid, Ref} <- Ms]).

churn_loop(_Port, 0, Errors) -> Errors;
churn_loop(Port, N, Errors) ->
    R = case connect(Port, []) of
            {ok, S} -> ts_ssl:close(S);
            Error -> Error
        end,
    churn_loop(Port, N - 1, if R =:= ok; length(Errors) >= 10 -> Errors; true -> [R | Errors] end).

%%% Soak: echo loops, each with a ts_ssl socket of its own

%% Starts Loops echo loops against Port, and `rel_soak', which gathers what they do; each loop
%% runs until told `stop', reconnecting after an error.
soak_start(Port, Loops) ->
    Stats = spawn(fun() -> soak_stats(0, 0, [], []) end),
    register(rel_soak, Stats),
    Loopers = [spawn(fun() -> soak_connect(Port, Stats) end) || _ <- lists:seq(1, Loops)],
    register(rel_soak_loops, spawn(fun() -> receive stop -> [L ! stop || L <- Loopers] end end)),
    ok.

soak_stop() ->
    rel_soak_loops ! stop, ok.

soak_connect(Port, Stats) ->
    case connect(Port, []) of
        {ok, S} -> soak_loop(S, Port, Stats);
        Error ->
            Stats ! {error, {connect, Error}},
            receive stop -> ok after 1000 -> soak_connect(Port, Stats) end
    end.

soak_loop(S, Port, Stats) ->
    receive
        stop -> ts_ssl:close(S)
    after 0 ->
            Len = 16 + rand:uniform(1008),
            Msg = binary:part(soak_block(), rand:uniform(4096 - Len) - 1, Len),
            T0 = erlang:monotonic_time(microsecond),
            case ts_ssl:send(S, Msg) of
                ok ->
                    case ts_ssl:recv(S, Len, 10000) of
                        {ok, Msg} ->
                            Stats ! {op, erlang:monotonic_time(microsecond) - T0},
                            soak_loop(S, Port, Stats);
                        Other -> soak_failed(S, Port, Stats, {recv, Other})
                    end;
                Other -> soak_failed(S, Port, Stats, {send, Other})
            end
    end.

soak_failed(S, Port, Stats, Why) ->
    Stats ! {error, Why},
    ts_ssl:close(S),
    soak_connect(Port, Stats).

soak_block() ->
    case get(soak_block) of
        undefined -> B = crypto:strong_rand_bytes(4096), put(soak_block, B), B;
        B -> B
    end.

soak_stats(Ops, Errors, Sample, Lat) ->
    receive
        {op, Us} -> soak_stats(Ops + 1, Errors, Sample, [Us | Lat]);
        {error, E} -> soak_stats(Ops, Errors + 1, lists:sublist([E | Sample], 10), Lat);
        {window, From} ->
            From ! {window, self(), Ops, Errors, Sample, Lat},
            soak_stats(0, 0, [], [])
    end.

%% The window since the last call, over every node's `rel_soak': {Ops, Errors, P50, P99, Max,
%% ErrorSample}, latencies in microseconds.
soak_window(Nodes) ->
    [{rel_soak, N} ! {window, self()} || N <- Nodes],
    Ws = [receive {window, _, O, E, S, L} -> {O, E, S, L} after 10000 -> exit({no_window, N}) end || N <- Nodes],
    Lat = lists:sort(lists:append([L || {_, _, _, L} <- Ws])),
    Pct = fun(_, []) -> 0; (P, L) -> lists:nth(max(1, ceil(P * length(L))), L) end,
    {lists:sum([O || {O, _, _, _} <- Ws]), lists:sum([E || {_, E, _, _} <- Ws]),
     Pct(0.5, Lat), Pct(0.99, Lat), lists:max([0 | Lat]), lists:append([S || {_, _, S, _} <- Ws])}.

%%% Back-pressure

%% A process that connects to Port (ts_ssl or native ssl) in {active, true} and never takes a
%% message: its mailbox shows what the socket delivers.
hoarder(ts_ssl, Port) ->
    hoard(fun() -> connect(Port, [{active, true}]) end);
hoarder(ssl, Port) ->
    {ok, _} = application:ensure_all_started(ssl),
    hoard(fun() -> ssl:connect({127, 0, 0, 1}, Port, [binary, {active, true}, {verify, verify_none}], ?WAIT) end).

hoard(Connect) ->
    Self = self(),
    Pid = spawn(fun() -> {ok, S} = Connect(), Self ! {hoarding, self()}, receive {stop, S} -> ok end end),
    receive {hoarding, Pid} -> Pid after ?WAIT -> exit(hoarder_not_up) end.

queue_len(Pid) ->
    {message_queue_len, N} = process_info(Pid, message_queue_len), N.

%% A process that owns a ts_ssl socket to Port in {active, true} and counts the bytes it takes;
%% `counted(Pid)' tells the count so far.
counter(Port) ->
    Self = self(),
    Pid = spawn(fun() -> {ok, S} = connect(Port, [{active, true}]), Self ! {counting, self()}, count(S, 0) end),
    receive {counting, Pid} -> Pid after ?WAIT -> exit(counter_not_up) end.

count(S, N) ->
    receive
        {ssl, S, D} -> count(S, N + byte_size(D));
        {counted, From} -> From ! {counted, N}, count(S, N)
    end.

counted(Pid) ->
    Pid ! {counted, self()},
    receive {counted, N} -> N after ?WAIT -> exit(counter_silent) end.

%% A process that connects with Connect, then sends 64 KiB at a time with Send until a send
%% fails; the bytes acknowledged so far are `counters:get(C, 1)' of the counter returned,
%% readable while a send blocks.
sender(Connect, Send) ->
    C = counters:new(1, []),
    Chunk = crypto:strong_rand_bytes(65536),
    spawn(fun() -> {ok, S} = Connect(), sending(S, Send, Chunk, C) end),
    C.

sending(S, Send, Chunk, C) ->
    case Send(S, Chunk) of
        ok -> counters:add(C, 1, byte_size(Chunk)), sending(S, Send, Chunk, C);
        Failed -> Failed
    end.

%%% Pipelined sends: each helper runs the same steps with Mod, ts_ssl or OTP's ssl (the
%%% modern steps with ts_ssl_otp or ssl), so a test compares the two.

client(ssl, Port, Options) ->
    {ok, _} = application:ensure_all_started(ssl),
    ssl:connect({127, 0, 0, 1}, Port, [binary, {active, false}, {verify, verify_none} | Options], ?WAIT);
client(ts_ssl_otp, Port, Options) ->
    ts_ssl_otp:connect({127, 0, 0, 1}, Port, [binary, {active, false}, {verify, verify_none} | Options], ?WAIT);
client(ts_ssl, Port, Options) ->
    connect(Port, Options).

%% Sends Chunks to a sink/1 peer on Port and closes at once: the sends' answers, the close's,
%% the caller's mailbox after the sends, and whether the peer got every byte (SHA-256), then
%% a clean end.
burst_then_close(Mod, Port, Col, Chunks) ->
    {ok, S} = client(Mod, Port, []),
    {ok, {_, Own}} = Mod:sockname(S),
    Sends = lists:usort([Mod:send(S, C) || C <- Chunks]),
    {messages, Mailbox} = process_info(self(), messages),
    Close = Mod:close(S),
    wait_until(fun() -> lists:keymember(Own, 1, reports(Col, sink)) end, ?WAIT),
    {Own, How, Got} = lists:keyfind(Own, 1, reports(Col, sink)),
    %% ts_ssl_sender's entries in the caller's process dictionary go at close/1.
    Entries = [K || {{ts_ssl_sender, _}, _} = K <- get()],
    {Sends, Close, Mailbox, How, crypto:hash(sha256, Got) =:= crypto:hash(sha256, Chunks), Entries}.

%% Never reads; closes when told `close' (tell_peer/2 finds it by the client's port).
stall_until_told(Col) ->
    fun(S) ->
            ok = ssl:setopts(S, [{active, false}]),
            {ok, {_, PeerPort}} = ssl:peername(S),
            Col ! {stall, {PeerPort, self()}},
            receive close -> ssl:close(S) end
    end.

tell_peer(Col, Own) ->
    wait_until(fun() -> lists:keymember(Own, 1, reports(Col, stall)) end, ?WAIT),
    {Own, Peer} = lists:keyfind(Own, 1, reports(Col, stall)),
    Peer ! close.

%% 64 KiB sends to a stall_until_told/1 peer until one has waited 500 ms, which it does once the
%% peer's buffers are full; then the peer closes. The waiting send's answer, the next send's,
%% whether the bytes answered ok stayed put while the peer did not read, and the mailbox.
blocked_then_closed(Mod, Port, Col) ->
    {ok, S} = client(Mod, Port, []),
    {ok, {_, Own}} = Mod:sockname(S),
    C = counters:new(1, []),
    Self = self(),
    Chunk = crypto:strong_rand_bytes(65536),
    spawn(fun() -> Self ! {waited, sending(S, fun Mod:send/2, Chunk, C)} end),
    wait_until(fun() -> N = counters:get(C, 1), timer:sleep(500), N =:= counters:get(C, 1) end, ?WAIT),
    Stalled = counters:get(C, 1),
    timer:sleep(1000),
    Bounded = Stalled =:= counters:get(C, 1) andalso Stalled < 64 * 1024 * 1024,
    tell_peer(Col, Own),
    Waited = receive {waited, R} -> R after ?WAIT -> hang end,
    Next = Mod:send(S, Chunk),
    {messages, Mailbox} = process_info(self(), messages),
    _ = Mod:close(S),
    {Waited, Next, Bounded, Mailbox}.

%% Raw sends, then `{packet, 1}': a send too big for its length field, then one that fits. The
%% answers, and what a sink/1 peer got: the raw bytes, then the packet with its length field.
packet_after_raw(Mod, Port, Col) ->
    {ok, S} = client(Mod, Port, []),
    {ok, {_, Own}} = Mod:sockname(S),
    Raw = [binary:copy(<<I>>, 1000) || I <- lists:seq(1, 20)],
    Sends = lists:usort([Mod:send(S, R) || R <- Raw]),
    Set = Mod:setopts(S, [{packet, 1}]),
    TooBig = Mod:send(S, binary:copy(<<"x">>, 256)),
    Fits = Mod:send(S, binary:copy(<<"y">>, 255)),
    Close = Mod:close(S),
    wait_until(fun() -> lists:keymember(Own, 1, reports(Col, sink)) end, ?WAIT),
    {Own, _How, Got} = lists:keyfind(Own, 1, reports(Col, sink)),
    Expected = iolist_to_binary([Raw, 255, binary:copy(<<"y">>, 255)]),
    {Sends, Set, TooBig, Fits, Close, Got =:= Expected}.

%% The senders of this node: ts_ssl_sender processes.
senders() ->
    [P || P <- processes(),
          {dictionary, D} <- [process_info(P, dictionary)],
          proplists:get_value('$initial_call', D) =:= {ts_ssl_sender, init, 2}].

%% A process that sends Chunk on S with ts_ssl until it fails; its pid.
burster(S, Chunk) ->
    spawn(fun() -> sending(S, fun ts_ssl:send/2, Chunk, counters:new(1, [])) end).

%% A process that owns a ts_ssl socket to Port, traps exits, and runs what it is given
%% (do/2, do/4) with the socket, one at a time, so that a test can call as the owner across
%% evaluations. {Keeper, Socket}.
keeper(Port) ->
    Self = self(),
    Pid = spawn(fun() ->
                        process_flag(trap_exit, true),
                        {ok, S} = connect(Port, []),
                        Self ! {kept, self(), S},
                        keep(S)
                end),
    receive {kept, Pid, S} -> {Pid, S} after ?WAIT -> exit(keeper_not_up) end.

keep(S) ->
    receive {do, To, Tag, Fun} -> To ! {Tag, Fun(S)}, keep(S) end.

%% Fun(S) as the keeper runs it, its result.
do(Keeper, Fun) ->
    Ref = make_ref(),
    do(Keeper, Fun, self(), Ref),
    receive {Ref, R} -> R after ?WAIT -> exit(keeper_silent) end.

%% Fun(S) as the keeper runs it; its result goes to To as {Tag, Result}.
do(Keeper, Fun, To, Tag) ->
    Keeper ! {do, To, Tag, Fun},
    ok.
