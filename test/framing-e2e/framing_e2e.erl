%% One byte stream, cut into the same chunks, received twice with the same options: by a gen_tcp
%% socket fed by a TCP sender, and by a socket of Mod (ts_ssl) fed by OTP's ssl as the TLS
%% sender. The senders write chunk by chunk with nodelay, so TLS records follow the chunking.
%% What each receiver delivers (messages, or recv/2 answers up to the first error) is written as
%% a sequence of `{data, Data}', `{error, Reason}', `closed' and compared.
%%
%% gen_tcp's raw packets are whatever the socket had read: their bounds depend on TCP timing, so
%% for `{packet, raw}' consecutive data is joined (as bytes) before comparing, each piece having
%% been checked to be in the form `mode' and `header' ask for.
-module(framing_e2e).

-export([setup/1, compare/2, receive_tcp/3, receive_tls/4]).

-define(WAIT, 5000).
%% A case that has not ended by then has hung: every wait inside one is ?WAIT.
-define(LIMIT, 30000).
-define(LOOPBACK, {127, 0, 0, 1}).

%% Certificates for the TLS receiver, made in Dir (a new directory).
-spec setup(file:filename()) -> ok.
setup(Dir) ->
    {ok, _} = application:ensure_all_started(ssl),
    ok = ts_ssl:start(),
    ok = logger:set_primary_config(level, none),
    persistent_term:put({?MODULE, certs}, ts_ssl_certs:make(Dir)),
    ok.

%% `same', {differ, WhatGenTcpGave, WhatModGave}, or {hang, Step, Stack} when the case did not
%% end in time. Delivery is `true', `once' or `false'.
-spec compare(module(), {list(), true | once | false, [binary()]}) ->
          same | {differ, list(), list()} | {hang, term(), term()}.
compare(Mod, Case) ->
    Parent = self(),
    {Pid, Monitor} = spawn_monitor(fun() -> Parent ! {self(), run(Mod, Case)} end),
    receive
        {Pid, Result} ->
            erlang:demonitor(Monitor, [flush]),
            Result;
        {'DOWN', Monitor, process, Pid, Reason} ->
            {crashed, Reason}
    after ?LIMIT ->
        {dictionary, Dictionary} = process_info(Pid, dictionary),
        {current_stacktrace, Stack} = process_info(Pid, current_stacktrace),
        exit(Pid, kill),
        {hang, proplists:get_value(step, Dictionary), Stack}
    end.

run(Mod, {Options, Delivery, Chunks}) ->
    Raw = case lists:member(proplists:get_value(packet, Options, 0), [0, raw]) of
              true -> form(Options);
              false -> false
          end,
    Tcp = normal(Raw, receive_tcp(Options, Delivery, Chunks)),
    Tls = normal(Raw, receive_tls(Mod, Options, Delivery, Chunks)),
    case Tcp =:= Tls of
        true -> same;
        false -> {differ, Tcp, Tls}
    end.

%% What a gen_tcp socket with Options delivers of Chunks.
-spec receive_tcp(list(), true | once | false, [binary()]) -> list().
receive_tcp(Options, Delivery, Chunks) ->
    put(step, tcp_connect),
    {ok, Listen} = gen_tcp:listen(0, [binary, {active, false}, {ip, ?LOOPBACK}]),
    {ok, Port} = inet:port(Listen),
    {ok, Sender} = gen_tcp:connect(?LOOPBACK, Port, [binary, {active, false}, {nodelay, true}]),
    {ok, Receiver} = gen_tcp:accept(Listen, ?WAIT),
    ok = gen_tcp:close(Listen),
    ok = inet:setopts(Receiver, [{active, Delivery} | Options]),
    send_all(fun(C) -> gen_tcp:send(Sender, C) end, fun() -> gen_tcp:close(Sender) end, Chunks),
    put(step, tcp_receive),
    %% Active http packets come as {http, S, Packet} from gen_tcp (inet(3)), {ssl, S, Packet} from ssl.
    Got = collect(Delivery, {[tcp, http], tcp_closed, tcp_error}, Receiver,
                  fun(O) -> inet:setopts(Receiver, O) end,
                  fun() -> gen_tcp:recv(Receiver, 0, ?WAIT) end),
    _ = gen_tcp:close(Receiver),
    Got.

%% What a socket of Mod with Options delivers of Chunks sent over TLS by OTP's ssl.
-spec receive_tls(module(), list(), true | once | false, [binary()]) -> list().
receive_tls(Mod, Options, Delivery, Chunks) ->
    #{dir := _} = Certs = persistent_term:get({?MODULE, certs}),
    Own = [{certfile, ts_ssl_certs:path(Certs, "server.pem")},
           {keyfile, ts_ssl_certs:path(Certs, "server.key")}],
    put(step, tls_listen),
    {ok, Listen} = Mod:listen(0, [binary, {active, false}, {ip, ?LOOPBACK} | Own]),
    {ok, {_, Port}} = Mod:sockname(Listen),
    Parent = self(),
    Sender = spawn_link(fun() ->
                                %% Active, so that OTP reads what the receiver's TLS 1.3 stack
                                %% sends (session tickets): a socket closed with unread data
                                %% resets the connection, and the reset takes with it whatever
                                %% the receiver's kernel held and had not been read yet.
                                {ok, S} = ssl:connect(?LOOPBACK, Port,
                                                      [binary, {active, true}, {nodelay, true},
                                                       {verify, verify_none}], ?WAIT),
                                Parent ! {self(), connected},
                                receive {Parent, send} -> ok end,
                                send_all(fun(C) -> ssl:send(S, C) end,
                                         fun() -> half_close(S) end, Chunks)
                        end),
    put(step, tls_accept),
    {ok, Receiver} = Mod:transport_accept(Listen, ?WAIT),
    ok = handshake(Mod:ssl_accept(Receiver, ?WAIT)),
    put(step, tls_close_listen),
    ok = Mod:close(Listen),
    put(step, tls_connect),
    receive {Sender, connected} -> ok end,
    put(step, tls_setopts),
    ok = Mod:setopts(Receiver, [{active, Delivery} | Options]),
    Sender ! {self(), send},
    put(step, tls_receive),
    Got = collect(Delivery, {[ssl], ssl_closed, ssl_error}, Receiver,
                  fun(O) -> Mod:setopts(Receiver, O) end,
                  fun() -> Mod:recv(Receiver, 0, ?WAIT) end),
    put(step, tls_close),
    _ = Mod:close(Receiver),
    Got.

%% The sender's end of the stream: close_notify and FIN, then the receiver's own close awaited
%% before the socket goes. ssl:close/1 alone waits only for the first bytes the receiver sends
%% (a TLS 1.3 session ticket, say); closing over a second one unread resets the connection, and
%% the reset can take records of the stream that had not left yet.
half_close(S) ->
    _ = ssl:shutdown(S, write),
    receive {ssl_closed, S} -> ok after ?WAIT -> ok end,
    ssl:close(S).

%% ts_ssl's ssl_accept says ok, OTP's handshake {ok, S}.
handshake(ok) -> ok;
handshake({ok, _}) -> ok.

%% A receiver that cannot frame what it gets closes the connection: sends fail from then on.
send_all(Send, Close, Chunks) ->
    _ = lists:all(fun(C) -> Send(C) =:= ok end, Chunks),
    Close().

%% Messages (active) or recv answers (passive) until the end, or until nothing comes for ?WAIT.
collect(false, _Tags, _S, _SetOpts, Recv) ->
    passive(Recv, 0);
collect(Delivery, Tags, S, SetOpts, _Recv) ->
    active(Delivery, Tags, S, SetOpts, 0).

%% A guard against a receiver that never ends its stream.
-define(MAX_PACKETS, 2000).

passive(_Recv, ?MAX_PACKETS) ->
    [too_many];
passive(Recv, N) ->
    case Recv() of
        {ok, Data} -> [{data, Data} | passive(Recv, N + 1)];
        {error, closed} -> [closed];
        {error, timeout} -> [timeout];
        %% The socket is closed then: gen_tcp answers enotconn from then on, ssl closed.
        {error, Reason} -> [{error, Reason}]
    end.

active(_Delivery, _Tags, _S, _SetOpts, ?MAX_PACKETS) ->
    [too_many];
active(Delivery, {Data, Closed, Error} = Tags, S, SetOpts, N) ->
    receive
        {Closed, S} ->
            [closed];
        {Error, S, Reason} ->
            [{error, Reason} | active(Delivery, Tags, S, SetOpts, N + 1)];
        {Tag, S, D} when is_atom(Tag) ->
            case lists:member(Tag, Data) of
                true ->
                    Delivery =:= once andalso SetOpts([{active, once}]),
                    [{data, D} | active(Delivery, Tags, S, SetOpts, N + 1)];
                false ->
                    [{unexpected, Tag, D}]
            end
    after ?WAIT ->
        [timeout]
    end.

%% The form raw data must have: `list', `binary', or {header, N}.
form(Options) ->
    Binary = lists:member(binary, Options) orelse proplists:get_value(mode, Options) =:= binary,
    case {Binary, proplists:get_value(header, Options, 0)} of
        {false, _} -> list;
        {true, 0} -> binary;
        {true, N} -> {header, N}
    end.

%% For raw packets, data joined into one binary between other events; a piece in the wrong
%% form stays as it is, marked.
normal(false, Events) ->
    Events;
normal(Form, Events) ->
    join(Form, Events, []).

join(Form, [{data, D} | Rest], Acc) ->
    case in_form(Form, D) of
        %% Each form (a binary, a list of bytes, [B1, ..., BN | Binary]) is an iolist.
        true -> join(Form, Rest, [Acc, D]);
        false -> data(Acc) ++ [{wrong_form, D} | join(Form, Rest, [])]
    end;
join(Form, [Other | Rest], Acc) -> data(Acc) ++ [Other | join(Form, Rest, [])];
join(_Form, [], Acc) -> data(Acc).

%% inet(3): list mode gives a list; binary mode a binary, or with {header, N} the first N bytes
%% as integers before the rest, a packet of N bytes or fewer being a plain list.
in_form(list, D) -> is_list(D) andalso lists:all(fun is_integer/1, D);
in_form(binary, D) -> is_binary(D);
in_form({header, N}, D) -> header_form(N, D).

header_form(0, Rest) -> is_binary(Rest);
header_form(_, []) -> true;
header_form(N, [B | Rest]) when is_integer(B) -> header_form(N - 1, Rest);
header_form(_, _) -> false.

data(Acc) ->
    case iolist_to_binary(Acc) of
        <<>> -> [];
        Bytes -> [{data, Bytes}]
    end.

