%% @doc The caller's side of `ts_ssl_otp:connect/2,3' and `handshake/2,3' on a gen_tcp socket
%% (STARTTLS): a process that owns the socket and carries its bytes to and from the bridge, where
%% TLS runs over them (ts-ssl/relay.ts has the messages). One chunk is read from the socket each time the bridge
%% asks for one, and each write is acknowledged once gen_tcp:send/2 is done, so neither side can
%% flood the other.
%%
%% Until the bridge starts it, the relay ends with the caller; from then on with the bridge's side
%% of the connection (a link), which ends with the TLS socket and so with the TLS socket's owner,
%% whoever that is by then. The gen_tcp socket, a port it owns, closes with it.
-module(ts_ssl_relay).

-export([start/1, abandon/1]).

-record(relay, {socket :: gen_tcp:socket(),
                stream :: pid(),
                %% Read before the bridge asked: what the socket held when it was handed over.
                held = [] :: [binary() | closed | {error, term()}],
                %% Chunks the bridge has asked for and not yet been sent.
                credit = 0 :: non_neg_integer(),
                %% The socket will send the next chunk ({active, once} is set).
                reading = false :: boolean()}).

%% A relay that owns Socket (the caller must own it), waiting for the bridge.
-spec start(gen_tcp:socket()) -> {ok, pid()} | {error, term()}.
start(Socket) ->
    Owner = self(),
    Relay = spawn(fun() -> waiting(Owner) end),
    case gen_tcp:controlling_process(Socket, Relay) of
        ok ->
            Relay ! {ts_ssl_relay_socket, Socket},
            {ok, Relay};
        {error, _} = Error ->
            exit(Relay, kill),
            Error
    end.

%% The upgrade failed: a relay the bridge has not started gives the socket back to the caller,
%% one it has started closes it (the TLS handshake began on it). Returns once the relay is gone.
-spec abandon(pid()) -> ok.
abandon(Relay) ->
    Ref = erlang:monitor(process, Relay),
    Relay ! {ts_ssl_relay_abandon, self()},
    receive {'DOWN', Ref, process, Relay, _} -> ok end.

waiting(Owner) ->
    Ref = erlang:monitor(process, Owner),
    Socket = receive {ts_ssl_relay_socket, S} -> S end,
    receive
        {ts_ssl_relay_start, Stream} ->
            %% An active socket has passed what it had read to this process's mailbox.
            _ = inet:setopts(Socket, [{active, false}]),
            Held = held(Socket, []),
            %% Chunks of up to 64 KiB: each is a message to the bridge (gen_tcp's default
            %% buffer made them a fifth of the speed, see ts-ssl/relay.ts).
            _ = inet:setopts(Socket, [binary, {packet, 0}, {header, 0}, {packet_size, 0},
                                      {buffer, 65536}]),
            erlang:demonitor(Ref, [flush]),
            relay(#relay{socket = Socket, stream = Stream, held = Held});
        {ts_ssl_relay_abandon, Caller} ->
            ok = gen_tcp:controlling_process(Socket, Caller);
        {'DOWN', Ref, process, _, _} ->
            gen_tcp:close(Socket)
    end.

held(Socket, Acc) ->
    receive
        {tcp, Socket, Data} -> held(Socket, [iolist_to_binary(Data) | Acc]);
        {tcp_closed, Socket} -> lists:reverse([closed | Acc]);
        {tcp_error, Socket, Reason} -> lists:reverse([{error, Reason} | Acc])
    after 0 ->
        lists:reverse(Acc)
    end.

relay(#relay{socket = Socket, stream = Stream} = R) ->
    receive
        {ts_ssl_tcp_read, Stream} ->
            relay(pump(R#relay{credit = R#relay.credit + 1}));
        {tcp, Socket, Data} ->
            relay(pump(sent(R#relay{reading = false}, Data)));
        {tcp_closed, Socket} ->
            relay(sent(R#relay{reading = false}, closed));
        {tcp_error, Socket, Reason} ->
            relay(sent(R#relay{reading = false}, {error, Reason}));
        {ts_ssl_tcp_send, Stream, Data} ->
            ok = case gen_tcp:send(Socket, Data) of
                     ok -> Stream ! {ts_ssl_tcp_sent, self()}, ok;
                     {error, Reason} -> to_stream(R, {error, Reason})
                 end,
            relay(R);
        {ts_ssl_tcp_shutdown, Stream} ->
            _ = gen_tcp:shutdown(Socket, write),
            relay(R);
        {ts_ssl_tcp_close, Stream} ->
            gen_tcp:close(Socket);
        {ts_ssl_relay_abandon, _} ->
            gen_tcp:close(Socket)
    end.

%% What the bridge has asked for: what was held first, then the socket's next chunk.
pump(#relay{held = [First | Rest], credit = Credit} = R) when Credit > 0 ->
    pump(sent(R#relay{held = Rest}, First));
pump(#relay{held = [], credit = Credit, reading = false, socket = Socket} = R) when Credit > 0 ->
    _ = inet:setopts(Socket, [{active, once}]),
    R#relay{reading = true};
pump(R) ->
    R.

sent(#relay{credit = Credit} = R, What) ->
    ok = to_stream(R, What),
    R#relay{credit = max(Credit - 1, 0)}.

to_stream(#relay{stream = Stream}, What) ->
    Stream ! case What of
                 closed -> {ts_ssl_tcp_closed, self()};
                 {error, Reason} -> {ts_ssl_tcp_error, self(), Reason};
                 Data -> {ts_ssl_tcp, self(), Data}
             end,
    ok.
