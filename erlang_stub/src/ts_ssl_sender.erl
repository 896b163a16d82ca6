%% @doc The send path of `ts_ssl:send/2' and `ts_ssl_otp:send/2': one process per (caller,
%% socket) on the caller's node, so that a send costs the caller a local call instead of a
%% round trip to the bridge.
%%
%% The sender forwards each send to the bridge at once, in order, as a `$gen_call' of its own
%% (request `{pipelined_send, Send}'), so the acknowledgements come back to it and never to the
%% caller. It answers the caller `ok' at once while the unacknowledged sends stay within a window
%% (?WINDOW_SENDS sends and ?WINDOW_BYTES bytes), and otherwise once enough of them are
%% acknowledged; the bridge acknowledges a send only once node:tls holds it below its high-water
%% mark or has written it out, so a peer that does not read stops the caller, as gen_tcp's send
%% blocks.
%%
%% Only sends that cannot fail are answered early. Every acknowledgement, and a notice whenever
%% it changes, tells the sender the largest send the bridge would take without error (0 once the
%% socket is closed or its peer ended it, the length field's limit under `{packet, 1 | 2 | 4}');
%% a send it does not know to be safe (the first, one over that limit) waits for its own reply,
%% which the caller gets as it is. The bridge sends the notice before anything from which a
%% process could learn of the change (`{ssl_closed, S}', the reply to `close/1' or `setopts/2'),
%% so a send that follows such news on this node finds the notice ahead of it.
%%
%% Other calls of the caller on the socket first wait (fence/2) until its sends are
%% acknowledged, so that what was answered `ok' goes out before a close, and a packet type set by
%% `setopts/2' applies to later sends only, as with gen_tcp.
%%
%% The sender monitors (never links) its caller and the socket's process, and ends with either,
%% answering what waits with `{error, closed}'. Nothing it does lands in the caller's mailbox:
%% the caller's requests are monitored calls whose replies go to an alias.
%%
%% When the bridge stops, it tells the sender that no send is safe any more (limit 0) and asks
%% for a flush marker (`{ts_ssl_send_flush, EmptySend}'), which the sender forwards behind its
%% other sends; the bridge closes the socket once it has arrived, so no send answered `ok' is
%% left on its way.
-module(ts_ssl_sender).

-export([send/2, fence/2]).
-export([init/2]).

%% The window: with 64 KiB sends on a busy 2-core machine, 24 outstanding sends (1.5 MiB) were
%% no faster than 8; the byte bound keeps what one caller has the bridge hold whatever the size
%% of its sends.
-define(WINDOW_SENDS, 8).
-define(WINDOW_BYTES, 512 * 1024).

%% The caller's module makes the request (`ts_ssl_otp' wraps it in `{otp, R}'); the socket is
%% the request's, of the caller's module's type.
-type send() :: ts_ssl_call:send_request() | {otp, ts_ssl_call:send_request()}.
-type limit() :: non_neg_integer() | infinity.
-type socket() :: term().
%% A request of the caller's, answered at the alias.
-type from() :: {pid(), reference()}.

-record(state, {
    %% The socket's process on the bridge.
    socket :: pid(),
    server :: {ts_ssl_bridge, node()},
    %% The last limit the bridge told, with its version (notices and acknowledgements travel
    %% from different bridge processes, so an older one may arrive after a newer one).
    version = -1 :: integer(),
    limit = 0 :: limit(),
    seq = 0 :: non_neg_integer(),
    %% Sends forwarded and not yet acknowledged: Seq => size.
    pending = #{} :: #{non_neg_integer() => non_neg_integer()},
    bytes = 0 :: non_neg_integer(),
    %% The caller's request waiting for an acknowledgement: a send answered early, to be
    %% released once the window has room; a send that waits for its own reply; a fence.
    waiting = none :: none
                    | {window, from()}
                    | {reply, non_neg_integer(), from()}
                    | {fence, from()},
    %% The first error an early-answered send met: what a send waiting for room gets.
    failed = none :: none | term()
}).

%%% The caller's side

%% `Send' (a send request on `Socket') for the calling process.
-spec send(socket(), send()) -> term().
send({sslsocket, _Id, Pid} = Socket, Send) when is_pid(Pid) ->
    call(sender(Socket), {send, Send});
send(Socket, Send) ->
    ts_ssl_call:on_socket(Socket, Send).

%% Before any other call of the calling process on `Socket': waits until its sends there are
%% acknowledged. A `recv' needs no wait (what it gets does not depend on what was sent); a
%% `close' also ends the caller's use of the sender.
-spec fence(term(), ts_ssl_call:request()) -> ok.
fence(_Socket, {recv, _, _, _}) ->
    ok;
fence(_Socket, {otp, {recv, _, _, _}}) ->
    ok;
fence(Socket, Request) ->
    Key = {?MODULE, Socket},
    case get(Key) of
        Sender when is_pid(Sender) ->
            _ = call(Sender, fence),
            case Request of
                {close, _} -> erase(Key);
                {otp, {close, _}} -> erase(Key);
                _ -> ok
            end,
            ok;
        undefined ->
            ok
    end.

-spec sender(socket()) -> pid().
sender(Socket) ->
    Key = {?MODULE, Socket},
    case get(Key) of
        Sender when is_pid(Sender) ->
            case is_process_alive(Sender) of
                true -> Sender;
                false -> new_sender(Key, Socket)
            end;
        undefined ->
            new_sender(Key, Socket)
    end.

-spec new_sender({?MODULE, socket()}, socket()) -> pid().
new_sender(Key, Socket) ->
    prune(),
    Sender = proc_lib:spawn(?MODULE, init, [self(), socket_pid(Socket)]),
    put(Key, Sender),
    Sender.

%% Senders that ended (their socket closed or their bridge went) leave their entries behind.
-spec prune() -> ok.
prune() ->
    _ = [erase(Key) || {{?MODULE, _} = Key, Sender} <- get(),
                       is_pid(Sender), not is_process_alive(Sender)],
    ok.

%% A call whose reply goes to an alias that ends with it: a late reply is dropped, and the
%% monitor's DOWN is flushed, so the caller's mailbox never sees either.
-spec call(pid(), term()) -> term().
call(Sender, Request) ->
    Mref = erlang:monitor(process, Sender, [{alias, demonitor}]),
    Sender ! {?MODULE, {self(), Mref}, Request},
    receive
        {Mref, Reply} ->
            erlang:demonitor(Mref, [flush]),
            Reply;
        {'DOWN', Mref, process, _, _} ->
            {error, closed}
    end.

%%% The sender

-spec socket_pid(socket()) -> pid().
socket_pid({sslsocket, _Id, Pid}) -> Pid.

-spec init(pid(), pid()) -> no_return().
init(Caller, SocketPid) ->
    _ = erlang:monitor(process, Caller),
    _ = erlang:monitor(process, SocketPid),
    Server = {ts_ssl_bridge, node(SocketPid)},
    %% A bridge node without its server would never answer.
    _ = erlang:monitor(process, Server),
    loop(#state{socket = SocketPid, server = Server}).

%% One message at a time, in the order they came: a notice that arrived before a send is
%% applied before it.
-spec loop(#state{}) -> no_return().
loop(State) ->
    receive
        {?MODULE, From, {send, Send}} ->
            loop(forward(From, Send, State));
        {?MODULE, From, fence} ->
            loop(hold(From, State));
        {ts_ssl_send_limit, {sslsocket, _, Pid}, Version, Limit} when Pid =:= State#state.socket ->
            loop(learn(Version, Limit, State));
        {ts_ssl_send_flush, Empty} when element(3, element(2, Empty)) =:= State#state.socket ->
            %% The bridge is stopping: the empty send it gives, behind the others, shows them
            %% all arrived. Its tag tells the bridge so; its ack only updates the limit.
            erlang:send(State#state.server, {'$gen_call', {self(), flush}, request(Empty)}),
            loop(State);
        {flush, {_Reply, Version, Limit}} ->
            loop(learn(Version, Limit, State));
        {Seq, {Reply, Version, Limit}} when is_integer(Seq) ->
            loop(acknowledged(Seq, Reply, learn(Version, Limit, State)));
        {'DOWN', _, process, _, _} ->
            finish(State)
    end.

-spec forward(from(), send(), #state{}) -> #state{}.
forward(From, Send, #state{seq = Seq} = State) ->
    Size = byte_size(bytes(Send)),
    erlang:send(State#state.server, {'$gen_call', {self(), Seq}, request(Send)}),
    Sent = State#state{seq = Seq + 1,
                       pending = maps:put(Seq, Size, State#state.pending),
                       bytes = State#state.bytes + Size},
    case safe(Size, State#state.limit) of
        true -> release(Sent#state{waiting = {window, From}});
        false -> Sent#state{waiting = {reply, Seq, From}}
    end.

-spec safe(non_neg_integer(), limit()) -> boolean().
safe(_Size, infinity) -> true;
safe(Size, Limit) -> Size =< Limit andalso Limit > 0.

-spec hold(from(), #state{}) -> #state{}.
hold(From, State) ->
    release(State#state{waiting = {fence, From}}).

-spec learn(integer(), limit(), #state{}) -> #state{}.
learn(Version, Limit, #state{version = Known} = State) when Version >= Known ->
    State#state{version = Version, limit = Limit};
learn(_Version, _Limit, State) ->
    State.

-spec acknowledged(non_neg_integer(), term(), #state{}) -> #state{}.
acknowledged(Seq, Reply, #state{pending = Pending} = State) ->
    case maps:take(Seq, Pending) of
        {Size, Rest} ->
            Acked = State#state{pending = Rest, bytes = State#state.bytes - Size},
            case Acked#state.waiting of
                {reply, Seq, From} ->
                    answer(From, Reply),
                    Acked#state{waiting = none};
                _ ->
                    release(note_failure(Reply, Acked))
            end;
        error ->
            State
    end.

-spec note_failure(term(), #state{}) -> #state{}.
note_failure({error, _} = Error, #state{failed = none} = State) ->
    %% Safe sends fail only when the socket is gone; the bridge says so in the ack's limit too,
    %% but the first reason is kept for a send that is still waiting for room.
    State#state{failed = Error};
note_failure(_Reply, State) ->
    State.

%% Answers the waiting request once the window allows it.
-spec release(#state{}) -> #state{}.
release(#state{waiting = {window, From}, pending = Pending, bytes = Bytes} = State) ->
    case map_size(Pending) =< ?WINDOW_SENDS andalso Bytes =< ?WINDOW_BYTES of
        true ->
            answer(From, case State#state.failed of none -> ok; Error -> Error end),
            State#state{waiting = none};
        false ->
            State
    end;
release(#state{waiting = {fence, From}, pending = Pending} = State)
  when map_size(Pending) =:= 0 ->
    answer(From, ok),
    State#state{waiting = none};
release(State) ->
    State.

%% The caller, the socket or the bridge is gone: what waits is answered, and the sender ends.
-spec finish(#state{}) -> no_return().
finish(#state{waiting = Waiting}) ->
    case Waiting of
        {_, From} -> answer(From, {error, closed});
        {reply, _, From} -> answer(From, {error, closed});
        none -> ok
    end,
    exit(normal).

-spec answer(from(), term()) -> ok.
answer({_Pid, Alias}, Reply) ->
    Alias ! {Alias, Reply},
    ok.

-spec bytes(send()) -> binary().
bytes({send, _Socket, Bytes}) -> Bytes;
bytes({otp, {send, _Socket, Bytes}}) -> Bytes.

%% What the bridge is asked: typed, so that Dialyzer holds it to README.md's request table.
-spec request(send()) -> ts_ssl_call:request().
request(Send) ->
    {pipelined_send, Send}.
