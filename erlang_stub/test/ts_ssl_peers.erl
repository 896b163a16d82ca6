%% The other end of the suite's connections: native OTP ssl in this node and the openssl command
%% line, plus the little concurrency the scenarios need (a blocking call on one side while the
%% other side answers).
-module(ts_ssl_peers).

-export([async/1, await/1, wait_until/1, waiting/1, waiting_for_reply/1]).
-export([native_listen/1, native_accept/1, native_connect/2, native_run/2]).
-export([accept_for/3, connect_for/4]).
-export([openssl_server/1, openssl_client/2, openssl_write/2, openssl_read/2, openssl_exit/1]).
-export([free_port/0, peer_args/0]).

%% Anything a peer is expected to do comes well within this; past it a scenario has hung.
-define(HANG, 30000).

%% Runs Fun in a linked process; await/1 gives what it returned.
async(Fun) ->
    Parent = self(),
    Ref = make_ref(),
    _ = spawn_link(fun() -> Parent ! {Ref, Fun()} end),
    Ref.

await(Ref) ->
    receive
        {Ref, Value} -> Value
    after ?HANG ->
        ct:fail({no_answer_within_ms, ?HANG})
    end.

%% Waits for a condition that another process makes true (not a timed assertion: it only says
%% when to look).
wait_until(Condition) ->
    wait_until(Condition, ?HANG div 10).

wait_until(Condition, 0) ->
    ct:fail({condition_never_true, Condition});
wait_until(Condition, Tries) ->
    case Condition() of
        true -> ok;
        false -> pause(), wait_until(Condition, Tries - 1)
    end.

%% 10 ms in a receive that matches nothing. Not timer:sleep/1: on OTP 25 a process that waits in
%% a receive without patterns can go on for seconds without the messages that reach it in the
%% queue that process_info(self(), messages) reads, and conditions on the caller's own mailbox
%% come true that much later.
pause() ->
    Never = make_ref(),
    receive Never -> ok after 10 -> ok end.

%% True when Pid is blocked in a receive with nothing in its mailbox.
waiting(Pid) ->
    process_info(Pid, [status, message_queue_len]) =:= [{status, waiting}, {message_queue_len, 0}].

%% True when Pid waits for the reply to a call that it has sent (a gen_server or gen_statem call,
%% or ts_ssl's call on a socket): the request has gone out whole, and no reply has come. A
%% `ts_ssl:send/2' waits on the caller's sender, which has sent the request when it waits too.
waiting_for_reply(Pid) ->
    waiting(Pid) andalso
        case process_info(Pid, current_function) of
            {current_function, {gen, do_call, 4}} ->
                true;
            {current_function, {ts_ssl_call, watched_call, 3}} ->
                true;
            {current_function, {ts_ssl_sender, call, 2}} ->
                {dictionary, D} = process_info(Pid, dictionary),
                lists:all(fun waiting/1, [Sender || {{ts_ssl_sender, _}, Sender} <- D]);
            _ ->
                false
        end.

%% A native ssl listen socket on 127.0.0.1 and its port. Native sockets are passive binary
%% unless Options say otherwise.
native_listen(Options) ->
    {ok, Listen} = ssl:listen(0, [binary, {active, false}, {reuseaddr, true},
                                  {ip, {127, 0, 0, 1}} | Options]),
    {ok, {_, Port}} = ssl:sockname(Listen),
    {Listen, Port}.

%% Accepts one connection in another process; await/1 gives `{ok, Socket}', owned by the caller,
%% or the handshake's error.
native_accept(Listen) ->
    Owner = self(),
    async(fun() -> accept_for(Owner, Listen, ?HANG) end).

native_connect(Port, Options) ->
    Owner = self(),
    async(fun() -> connect_for(Owner, Port, Options, ?HANG) end).

%% The work of native_accept/1 and native_connect/2, in the calling process, for callers with
%% their own concurrency and waits (the conformance scenarios' fixed peer,
%% test/conformance/erl/conf.erl): `{ok, Socket}' handed to Owner, or the error.
accept_for(Owner, Listen, Timeout) ->
    case ssl:transport_accept(Listen, Timeout) of
        {ok, Socket} ->
            case ssl:handshake(Socket, Timeout) of
                {ok, Tls} -> give(Tls, Owner);
                Error -> Error
            end;
        Error ->
            Error
    end.

connect_for(Owner, Port, Options, Timeout) ->
    case ssl:connect({127, 0, 0, 1}, Port, [binary, {active, false}, {verify, verify_none} | Options],
                     Timeout) of
        {ok, Socket} -> give(Socket, Owner);
        Error -> Error
    end.

give(Socket, Owner) ->
    ok = ssl:controlling_process(Socket, Owner),
    {ok, Socket}.

%% Runs Fun(Socket) in a process that owns the native socket meanwhile; await/1 gives its value.
native_run(Socket, Fun) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn_link(fun() ->
                             receive {Ref, go} -> ok end,
                             Value = Fun(Socket),
                             _ = ssl:controlling_process(Socket, Parent),
                             Parent ! {Ref, Value}
                     end),
    ok = ssl:controlling_process(Socket, Pid),
    Pid ! {Ref, go},
    Ref.

%% `openssl s_server -rev': every line it gets comes back reversed. Returns the port program and
%% the TCP port it accepts on, once it does.
openssl_server(Args) ->
    Port = openssl(["s_server", "-accept", "127.0.0.1:0", "-rev", "-naccept", "1" | Args]),
    {ok, Line} = read_until(Port, <<"ACCEPT ">>),
    [_, PortText] = string:split(Line, ":", trailing),
    {Port, binary_to_integer(string:trim(PortText))}.

%% `openssl s_client' connected to 127.0.0.1:TcpPort: what is written to it goes to the TLS peer,
%% what the peer sends comes out. It exits when the peer closes.
openssl_client(TcpPort, Args) ->
    openssl(["s_client", "-connect", "127.0.0.1:" ++ integer_to_list(TcpPort), "-quiet",
             "-no_ign_eof" | Args]).

openssl_write(Port, Data) ->
    true = port_command(Port, Data),
    ok.

%% Reads from the program's output until Pattern has come, and returns the line that holds it.
openssl_read(Port, Pattern) ->
    read_until(Port, Pattern).

%% The exit status of the program once it ends.
openssl_exit(Port) ->
    receive
        {Port, {exit_status, Status}} -> Status
    after ?HANG ->
        ct:fail(openssl_did_not_exit)
    end.

%% Under `timeout', so that a scenario that fails half-way leaves no openssl behind.
openssl(Args) ->
    open_port({spawn_executable, os:find_executable("timeout")},
              [{args, ["120", "openssl" | Args]}, binary, exit_status, {line, 4096}]).

read_until(Port, Pattern) ->
    receive
        {Port, {data, {_, Line}}} ->
            case binary:match(Line, Pattern) of
                nomatch -> read_until(Port, Pattern);
                _ -> {ok, Line}
            end;
        {Port, {exit_status, Status}} ->
            {exit_status, Status}
    after ?HANG ->
        ct:fail({openssl_never_said, Pattern})
    end.

%% A TCP port that was free a moment ago.
free_port() ->
    {ok, Listen} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(Listen),
    ok = gen_tcp:close(Listen),
    Port.

%% The arguments of a peer node (peer:start/1) that shares this node's cookie and sees ts_ssl
%% and the suites' code.
peer_args() ->
    ["-setcookie", atom_to_list(erlang:get_cookie()),
     "-pa", filename:dirname(code:which(?MODULE)),
     "-pa", filename:dirname(code:which(ts_ssl))].
