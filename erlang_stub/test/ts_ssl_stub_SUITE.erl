%% What `ts_ssl' does by itself, where the caller runs: the requests it sends (README.md, "How
%% ts_ssl talks to the bridge"), the files it reads, the certificates it decodes, the messages it
%% passes on to a new owner, the texts of format_error/1, which bridge it asks, and what it
%% answers when no bridge can be reached. The bridge here is a plain process registered as
%% `ts_ssl_bridge' that records each request and gives the answer the case scripts; the suites
%% ts_ssl_SUITE and ts_ssl_39_SUITE run the same API against the real bridge.
-module(ts_ssl_stub_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("public_key/include/public_key.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_testcase/2, end_per_testcase/2]).
-export([requests_of_the_table/1, default_timeouts_are_infinity/1,
         files_are_read_where_the_caller_runs/1, send_flattens_iodata/1,
         send_refuses_what_gen_tcp_refuses/1, seed_refuses_non_iodata/1,
         peercert_decodes_der/1, peercert_refuses_bad_options/1, peercert_passes_errors/1,
         controlling_process_passes_queued_messages/1, controlling_process_refused/1,
         controlling_process_of_a_passive_socket/1, pid_is_answered_locally/1,
         format_error_texts/1, format_error_posix_and_others/1,
         app_env_names_the_bridge/1, command_line_names_the_bridge/1, os_env_names_the_bridge/1,
         default_bridge_is_on_this_host/1, socket_calls_go_to_the_socket_node/1,
         unreachable_library_calls/1, unreachable_socket_calls/1,
         shell_without_sname/1, start_and_stop/1]).
%% Run on the peer node of default_bridge_is_on_this_host/1.
-export([serve/1]).

-import(ts_ssl_peers, [peer_args/0]).

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [{group, requests}, {group, local_answers}, {group, which_bridge}, {group, unreachable},
     shell_without_sname, start_and_stop].

groups() ->
    [{requests, [],
      [requests_of_the_table, default_timeouts_are_infinity,
       files_are_read_where_the_caller_runs, send_flattens_iodata, peercert_decodes_der,
       peercert_passes_errors, controlling_process_passes_queued_messages,
       controlling_process_refused, controlling_process_of_a_passive_socket]},
     {local_answers, [],
      [send_refuses_what_gen_tcp_refuses, seed_refuses_non_iodata, peercert_refuses_bad_options,
       pid_is_answered_locally, format_error_texts, format_error_posix_and_others]},
     {which_bridge, [],
      [app_env_names_the_bridge, command_line_names_the_bridge, os_env_names_the_bridge,
       default_bridge_is_on_this_host,
       socket_calls_go_to_the_socket_node]},
     {unreachable, [], [unreachable_library_calls, unreachable_socket_calls]}].

init_per_suite(Config) ->
    Certs = ts_ssl_certs:make(filename:join(?config(priv_dir, Config), ?MODULE)),
    [{certs, Certs}, {saved_env, os:getenv("TS_SSL_BRIDGE")} | Config].

end_per_suite(_Config) ->
    ok.

%% Every case starts with ts_ssl asking this node, where a fake bridge may be registered.
init_per_testcase(_Case, Config) ->
    ok = application:set_env(ts_ssl, bridge, node()),
    Config.

end_per_testcase(_Case, Config) ->
    case whereis(ts_ssl_bridge) of
        undefined -> ok;
        Fake -> unregister(ts_ssl_bridge), exit(Fake, kill)
    end,
    ok = application:unset_env(ts_ssl, bridge),
    case ?config(saved_env, Config) of
        false -> true = os:unsetenv("TS_SSL_BRIDGE");
        Saved -> true = os:putenv("TS_SSL_BRIDGE", Saved)
    end,
    ok.

%%% The requests

requests_of_the_table(_Config) ->
    S = socket(),
    L = socket(),
    Owner = self(),
    %% The fake answers each request with the request itself: what ts_ssl returns is then both
    %% the request it made and proof that the reply is handed back untouched.
    fake_bridge(fun(Request) -> {echo, Request} end),
    Table =
        [{fun() -> ts_ssl:connect("host", 443, [binary], 5000) end,
          {connect, "host", 443, [binary], 5000}},
         {fun() -> ts_ssl:listen(0, [{active, false}]) end, {listen, 0, [{active, false}]}},
         {fun() -> ts_ssl:transport_accept(L, 10) end, {transport_accept, L, 10}},
         {fun() -> ts_ssl:ssl_accept(S, 20) end, {ssl_accept, S, 20}},
         {fun() -> ts_ssl:accept(L, 30) end, {accept, L, 30}},
         {fun() -> ts_ssl:close(S) end, {close, S}},
         {fun() -> ts_ssl:send(S, <<"data">>) end, {pipelined_send, {send, S, <<"data">>}}},
         {fun() -> ts_ssl:recv(S, 4, 40) end, {recv, S, 4, 40}},
         {fun() -> ts_ssl:controlling_process(S, Owner) end, {controlling_process, S, Owner}},
         {fun() -> ts_ssl:getopts(S, [mode, active]) end, {getopts, S, [mode, active]}},
         {fun() -> ts_ssl:setopts(S, [{packet, 2}]) end, {setopts, S, [{packet, 2}]}},
         {fun() -> ts_ssl:peername(S) end, {peername, S}},
         {fun() -> ts_ssl:sockname(S) end, {sockname, S}},
         {fun() -> ts_ssl:connection_info(S) end, {connection_info, S}},
         {fun() -> ts_ssl:ciphers() end, ciphers},
         {fun() -> ts_ssl:version() end, version},
         {fun() -> ts_ssl:seed(<<"entropy">>) end, {seed, <<"entropy">>}}],
    [{echo, Request} = Call() || {Call, Request} <- Table],
    ok.

default_timeouts_are_infinity(_Config) ->
    S = socket(),
    fake_bridge(fun(Request) -> {echo, Request} end),
    {echo, {connect, {127, 0, 0, 1}, 1, [], infinity}} = ts_ssl:connect({127, 0, 0, 1}, 1, []),
    {echo, {accept, S, infinity}} = ts_ssl:accept(S),
    {echo, {transport_accept, S, infinity}} = ts_ssl:transport_accept(S),
    {echo, {ssl_accept, S, infinity}} = ts_ssl:ssl_accept(S),
    {echo, {recv, S, 0, infinity}} = ts_ssl:recv(S, 0),
    ok.

%% certfile, keyfile and cacertfile name files where the caller runs; the bridge gets
%% `{Tag, Path, Contents}', Contents the bytes or the reason they could not be read.
files_are_read_where_the_caller_runs(Config) ->
    Certs = ?config(certs, Config),
    Cert = ts_ssl_certs:path(Certs, "server.pem"),
    CaBinaryPath = list_to_binary(ts_ssl_certs:path(Certs, "ca.pem")),
    Missing = ts_ssl_certs:path(Certs, "no_such_file.key"),
    {ok, CertBytes} = file:read_file(Cert),
    {ok, CaBytes} = file:read_file(CaBinaryPath),
    fake_bridge(fun(Request) -> {echo, Request} end),
    Options = [binary, {certfile, Cert}, {keyfile, Missing}, {cacertfile, CaBinaryPath},
               {password, "pw"}, {verify, 2}],
    Sent = [binary, {certfile, Cert, CertBytes}, {keyfile, Missing, {error, enoent}},
            {cacertfile, CaBinaryPath, CaBytes}, {password, "pw"}, {verify, 2}],
    {echo, {listen, 0, Sent}} = ts_ssl:listen(0, Options),
    {echo, {connect, "h", 1, Sent, infinity}} = ts_ssl:connect("h", 1, Options),
    %% What is not a list of options is the bridge's to refuse, unchanged.
    {echo, {listen, 0, not_a_list}} = ts_ssl:listen(0, not_a_list),
    {echo, {listen, 0, [{certfile, Cert, CertBytes} | tail]}} =
        ts_ssl:listen(0, [{certfile, Cert} | tail]),
    ok.

send_flattens_iodata(_Config) ->
    S = socket(),
    fake_bridge(fun(Request) -> {echo, Request} end),
    {echo, {pipelined_send, {send, S, <<"abcd">>}}} = ts_ssl:send(S, ["ab", [$c], <<"d">>]),
    {echo, {pipelined_send, {send, S, <<"text">>}}} = ts_ssl:send(S, "text"),
    {echo, {pipelined_send, {send, S, <<>>}}} = ts_ssl:send(S, []),
    ok.

%% The DER bytes from the bridge become the form the options ask for, with public_key here.
peercert_decodes_der(Config) ->
    Der = ts_ssl_certs:der(?config(certs, Config), "server.pem"),
    S = socket(),
    fake_bridge(fun({peercert, _}) -> {ok, Der} end),
    Plain = public_key:pkix_decode_cert(Der, plain),
    Otp = public_key:pkix_decode_cert(Der, otp),
    {ok, Der} = ts_ssl:peercert(S),
    {ok, Der} = ts_ssl:peercert(S, []),
    {ok, #'Certificate'{} = Plain} = ts_ssl:peercert(S, [pkix]),
    Der = public_key:pkix_encode('Certificate', Plain, plain),
    {ok, #'OTPCertificate'{} = Otp} = ts_ssl:peercert(S, [ssl]),
    {rdnSequence, _} = PlainSubject = Plain#'Certificate'.tbsCertificate#'TBSCertificate'.subject,
    {rdnSequence, _} = OtpSubject = Otp#'OTPCertificate'.tbsCertificate#'OTPTBSCertificate'.subject,
    {ok, PlainSubject} = ts_ssl:peercert(S, [subject, pkix]),
    {ok, PlainSubject} = ts_ssl:peercert(S, [pkix, subject]),
    {ok, OtpSubject} = ts_ssl:peercert(S, [ssl, subject]),
    ok.

peercert_passes_errors(_Config) ->
    S = socket(),
    fake_bridge(fun({peercert, _}) -> {error, enopeercert} end),
    {error, enopeercert} = ts_ssl:peercert(S),
    {error, enopeercert} = ts_ssl:peercert(S, [ssl]),
    ok.

%% Messages the socket sent the old owner before the change go on to the new owner, in the order
%% they came, and nothing else does. Active delivery is held meanwhile, as gen_tcp holds it.
controlling_process_passes_queued_messages(_Config) ->
    S = socket(),
    Other = socket(),
    NewOwner = collector(),
    Requests = scripted_bridge([{{getopts, S, [active]}, {ok, [{active, true}]}},
                                {{setopts, S, [{active, false}]}, ok},
                                {{controlling_process, S, NewOwner}, ok},
                                {{setopts, S, [{active, true}]}, ok}]),
    Queued = [{ssl, S, "one"}, {ssl_closed, S}, {ssl_error, S, esslerrssl}, {ssl_passive, S}],
    Mine = [{ssl, Other, "not this socket"}, {unrelated, message}],
    [self() ! M || M <- [hd(Queued), hd(Mine) | tl(Queued)] ++ tl(Mine)],
    ok = ts_ssl:controlling_process(S, NewOwner),
    4 = length(Requests()),
    Queued = collected(NewOwner, length(Queued)),
    Mine = drain(),
    ok.

controlling_process_refused(_Config) ->
    S = socket(),
    NewOwner = collector(),
    Requests = scripted_bridge([{{getopts, S, [active]}, {ok, [{active, once}]}},
                                {{setopts, S, [{active, false}]}, ok},
                                {{controlling_process, S, NewOwner}, {error, {badcall, x}}},
                                {{setopts, S, [{active, once}]}, ok}]),
    self() ! {ssl, S, "stays"},
    {error, {badcall, x}} = ts_ssl:controlling_process(S, NewOwner),
    4 = length(Requests()),
    [{ssl, S, "stays"}] = drain(),
    [] = collected(NewOwner, 0),
    ok.

controlling_process_of_a_passive_socket(_Config) ->
    S = socket(),
    NewOwner = collector(),
    Requests = scripted_bridge([{{getopts, S, [active]}, {ok, [{active, false}]}},
                                {{controlling_process, S, NewOwner}, ok}]),
    ok = ts_ssl:controlling_process(S, NewOwner),
    2 = length(Requests()),
    ok.

%%% Answers that need no bridge

%% Data that is not iodata: the same answer gen_tcp gives on this OTP, and no request.
send_refuses_what_gen_tcp_refuses(_Config) ->
    {ok, Listen} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(Listen),
    {ok, Tcp} = gen_tcp:connect({127, 0, 0, 1}, Port, []),
    S = socket(),
    Requests = scripted_bridge([]),
    [begin
         Expected = gen_tcp:send(Tcp, Bad),
         {error, _} = Expected,
         Expected = ts_ssl:send(S, Bad)
     end || Bad <- [not_iodata, [1 | 2], [256], [-1], {<<"a">>}, 3.5, <<1:3>>]],
    [] = Requests(),
    ok.

seed_refuses_non_iodata(_Config) ->
    Requests = scripted_bridge([]),
    [{error, edata} = ts_ssl:seed(Bad) || Bad <- [not_iodata, [1 | 2], [256], 42, <<1:3>>]],
    [] = Requests(),
    ok.

%% `pkix' and `ssl' exclude each other and `subject' needs one of them: refused before asking.
peercert_refuses_bad_options(_Config) ->
    S = socket(),
    Requests = scripted_bridge([]),
    [{error, eoptions} = ts_ssl:peercert(S, Bad)
     || Bad <- [[subject], [pkix, ssl], [pkix, ssl, subject], [der], [pkix | ssl], pkix]],
    [] = Requests(),
    ok.

pid_is_answered_locally(_Config) ->
    Requests = scripted_bridge([]),
    Pid = spawn(fun() -> ok end),
    Pid = ts_ssl:pid({sslsocket, 7, Pid}),
    [] = Requests(),
    ok.

%% The texts of ssl 3.9 (the manual's ERRORS section).
format_error_texts(_Config) ->
    Texts =
        [{closed, "Connection closed for the operation in question."},
         {ebadsocket, "Connection not found (internal error)."},
         {ebadstate, "Connection not in connect state (internal error)."},
         {ebrokertype, "Wrong broker type (internal error)."},
         {ecacertfile, "Own CA certificate file is invalid."},
         {ecertfile, "Own certificate file is invalid."},
         {echaintoolong, "The chain of certificates provided by peer is too long."},
         {ecipher, "Own list of specified ciphers is invalid."},
         {ekeyfile, "Own private key file is invalid."},
         {ekeymismatch, "Own private key does not match own certificate."},
         {enoissuercert, "Cannot find certificate of issuer of certificate provided by peer."},
         {enoservercert, "Attempt to do accept without having set own certificate."},
         {enotlistener, "Attempt to accept on a non-listening socket."},
         {enoproxysocket,
          "No proxy socket found (internal error or max number of file descriptors exceeded)."},
         {enooptions, "List of options is empty."},
         {enotstarted, "The SSL application has not been started."},
         {eoptions, "Invalid list of options."},
         {epeercert, "Certificate provided by peer is in error."},
         {epeercertexpired, "Certificate provided by peer has expired."},
         {epeercertinvalid, "Certificate provided by peer is invalid."},
         {eselfsignedcert, "Certificate provided by peer is self signed."},
         {esslaccept, "Server SSL handshake procedure between client and server failed."},
         {esslconnect, "Client SSL handshake procedure between client and server failed."},
         {esslerrssl, "SSL protocol failure. Typically because of a fatal alert from peer."},
         {ewantconnect, "Protocol wants to connect, which is not supported in this version of "
                        "the SSL application."},
         {ex509lookup, "Protocol wants X.509 lookup, which is not supported in this version of "
                       "the SSL application."},
         {{badcall, {recv, x}},
          "Call not recognized for current mode (active or passive) and state of socket."},
         {{badcast, x},
          "Call not recognized for current mode (active or passive) and state of socket."},
         {{badinfo, x},
          "Call not recognized for current mode (active or passive) and state of socket."}],
    [{Reason, Text} = {Reason, ts_ssl:format_error(Reason)} || {Reason, Text} <- Texts],
    [{Reason, Text} = {Reason, ts_ssl:format_error({error, Reason})} || {Reason, Text} <- Texts],
    ok.

%% POSIX reasons read as inet(3) words them; anything else gets the text 3.9 meant to print.
format_error_posix_and_others(_Config) ->
    [Text = ts_ssl:format_error(Posix)
     || Posix <- [econnrefused, nxdomain, einval, emsgsize, enoent],
        Text <- [inet:format_error(Posix)]],
    "connection refused" = ts_ssl:format_error(econnrefused),
    "connection refused" = ts_ssl:format_error({error, econnrefused}),
    "No format string for error: \"timeout\" available." = ts_ssl:format_error(timeout),
    "No format string for error: \"foo\" available." = ts_ssl:format_error(foo),
    "No format string for error: \"{tls_alert,\"x\"}\" available." =
        ts_ssl:format_error({tls_alert, "x"}),
    "No format string for error: \"42\" available." = ts_ssl:format_error(42),
    ok.

%%% Which bridge

app_env_names_the_bridge(_Config) ->
    true = os:putenv("TS_SSL_BRIDGE", "ts_ssl_absent@nowhere"),
    fake_bridge(fun(version) -> {ok, {"3.9", "app env", ""}} end),
    {ok, {"3.9", "app env", ""}} = ts_ssl:version(),
    ok.

%% `erl -ts_ssl bridge Node' sets the application env before ts_ssl is loaded.
command_line_names_the_bridge(_Config) ->
    fake_bridge(fun(version) -> {ok, {"3.9", "command line", ""}} end),
    Args = ["-ts_ssl", "bridge", "'" ++ atom_to_list(node()) ++ "'" | peer_args()],
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(), args => Args,
                                        env => [{"TS_SSL_BRIDGE", "ts_ssl_absent@nowhere"}]}),
    try
        {ok, {"3.9", "command line", ""}} = erpc:call(Node, ts_ssl, version, [])
    after
        peer:stop(Peer)
    end,
    ok.

os_env_names_the_bridge(_Config) ->
    ok = application:unset_env(ts_ssl, bridge),
    true = os:putenv("TS_SSL_BRIDGE", atom_to_list(node())),
    fake_bridge(fun(version) -> {ok, {"3.9", "os env", ""}} end),
    {ok, {"3.9", "os env", ""}} = ts_ssl:version(),
    ok.

%% Unconfigured, the bridge is `ts_ssl_bridge' on this node's host: here a peer node of that name
%% whose own fake answers.
default_bridge_is_on_this_host(_Config) ->
    ok = application:unset_env(ts_ssl, bridge),
    true = os:unsetenv("TS_SSL_BRIDGE"),
    {ok, Peer, Node} = peer:start_link(#{name => ts_ssl_bridge, args => peer_args()}),
    try
        ok = erpc:call(Node, ?MODULE, serve, [{ok, {"3.9", "default", ""}}]),
        {ok, {"3.9", "default", ""}} = ts_ssl:version()
    after
        peer:stop(Peer)
    end,
    ok.

%% A socket belongs to the bridge that made it: calls on it go to its pid's node, whatever the
%% configuration says.
socket_calls_go_to_the_socket_node(_Config) ->
    ok = application:set_env(ts_ssl, bridge, list_to_atom("ts_ssl_absent@" ++ host())),
    S = socket(),
    fake_bridge(fun(Request) -> {echo, Request} end),
    {echo, {sockname, S}} = ts_ssl:sockname(S),
    {error, enotstarted} = ts_ssl:ciphers(),
    ok.

%%% No bridge

%% Calls that make a socket or ask the library: the SSL "application" is not there. version/0
%% has no error return: "If the SSL application has not been started, CompVsn and LibVsn are
%% empty strings" (manual).
unreachable_library_calls(_Config) ->
    Absent = list_to_atom("ts_ssl_absent@" ++ host()),
    NoProcess = node(),
    [begin
         ok = application:set_env(ts_ssl, bridge, Bridge),
         {error, enotstarted} = ts_ssl:connect("localhost", 443, []),
         {error, enotstarted} = ts_ssl:connect("localhost", 443, [], 1000),
         {error, enotstarted} = ts_ssl:listen(0, [{certfile, "x"}]),
         {error, enotstarted} = ts_ssl:ciphers(),
         {ok, {"3.9", "", ""}} = ts_ssl:version(),
         {error, enotstarted} = ts_ssl:seed(<<"x">>)
     end || Bridge <- [Absent, NoProcess]],
    ok.

%% Calls on a socket whose bridge is gone: closed for the operation in question, never a crash.
unreachable_socket_calls(_Config) ->
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(), args => peer_args()}),
    Remote = erpc:call(Node, erlang, spawn, [timer, sleep, [infinity]]),
    peer:stop(Peer),
    Local = spawn(fun() -> ok end),
    [begin
         S = {sslsocket, 1, Pid},
         {error, closed} = ts_ssl:accept(S),
         {error, closed} = ts_ssl:accept(S, 10),
         {error, closed} = ts_ssl:close(S),
         {error, closed} = ts_ssl:connection_info(S),
         {error, closed} = ts_ssl:controlling_process(S, self()),
         {error, closed} = ts_ssl:controlling_process(S, Local),
         {error, closed} = ts_ssl:getopts(S, [active]),
         {error, closed} = ts_ssl:peercert(S),
         {error, closed} = ts_ssl:peercert(S, [ssl]),
         {error, closed} = ts_ssl:peername(S),
         {error, closed} = ts_ssl:recv(S, 0),
         {error, closed} = ts_ssl:recv(S, 0, 10),
         {error, closed} = ts_ssl:send(S, <<"x">>),
         {error, closed} = ts_ssl:setopts(S, [{active, once}]),
         {error, closed} = ts_ssl:ssl_accept(S),
         {error, closed} = ts_ssl:ssl_accept(S, 10),
         {error, closed} = ts_ssl:sockname(S),
         {error, closed} = ts_ssl:transport_accept(S),
         {error, closed} = ts_ssl:transport_accept(S, 10),
         Pid = ts_ssl:pid(S)
     end || Pid <- [Remote, Local]],
    ok.

%% A node started without -sname becomes a hidden node with a name of its own when it first
%% calls, and reaches the bridge (here this node's fake).
shell_without_sname(_Config) ->
    fake_bridge(fun(version) -> {ok, {"3.9", "shell", ""}} end),
    {ok, Peer, nonode@nohost} =
        peer:start_link(#{connection => standard_io, args => peer_args(),
                          env => [{"TS_SSL_BRIDGE", atom_to_list(node())}]}),
    try
        nonode@nohost = peer:call(Peer, erlang, node, []),
        {ok, {"3.9", "shell", ""}} = peer:call(Peer, ts_ssl, version, []),
        Node = peer:call(Peer, erlang, node, []),
        "ts_ssl_" ++ _ = atom_to_list(Node),
        true = lists:member(Node, nodes(hidden)),
        false = lists:member(Node, nodes())
    after
        peer:stop(Peer)
    end,
    ok.

start_and_stop(_Config) ->
    ok = ts_ssl:start(),
    true = lists:keymember(ts_ssl, 1, application:which_applications()),
    ok = ts_ssl:stop(),
    false = lists:keymember(ts_ssl, 1, application:which_applications()),
    ok.

%%% The fake bridge

%% A socket term as the bridge makes them, whose pid is on this node.
socket() ->
    {sslsocket, erlang:unique_integer([positive]), spawn(fun() -> timer:sleep(infinity) end)}.

%% Registers `ts_ssl_bridge' here, answering each request with Answer(Request).
fake_bridge(Answer) ->
    Fake = spawn(fun() -> fake_loop(Answer) end),
    true = register(ts_ssl_bridge, Fake),
    Fake.

fake_loop(Answer) ->
    receive
        {'$gen_call', From, {pipelined_send, _} = Request} ->
            %% As the bridge answers a sender: with a send limit of 0, each send waits for its
            %% own reply, which ts_ssl:send/2 returns.
            gen_server:reply(From, {Answer(Request), 0, 0}),
            fake_loop(Answer);
        {'$gen_call', From, Request} ->
            gen_server:reply(From, Answer(Request)),
            fake_loop(Answer)
    end.

%% Registers a fake that expects exactly the requests of Script, in order, and answers each
%% with its scripted reply. Returns a fun that gives the requests it got so far.
scripted_bridge(Script) ->
    Self = self(),
    Fake = spawn(fun() -> scripted_loop(Self, Script, []) end),
    true = register(ts_ssl_bridge, Fake),
    fun() ->
            Fake ! {requests, self()},
            receive {Fake, Requests} -> Requests after 5000 -> ct:fail(fake_gone) end
    end.

scripted_loop(Test, Script, Got) ->
    receive
        {'$gen_call', From, Request} ->
            case Script of
                [{Request, Reply} | Rest] ->
                    gen_server:reply(From, Reply),
                    scripted_loop(Test, Rest, [Request | Got]);
                _ ->
                    exit(Test, {unexpected_request, Request, expected, Script})
            end;
        {requests, Asker} ->
            Asker ! {self(), lists:reverse(Got)},
            scripted_loop(Test, Script, Got)
    end.

%% Called on a peer node: registers there a `ts_ssl_bridge' that answers every call with Reply.
serve(Reply) ->
    Parent = self(),
    _ = spawn(fun() ->
                      true = register(ts_ssl_bridge, self()),
                      Parent ! registered,
                      fake_loop(fun(_) -> Reply end)
              end),
    receive registered -> ok end.

%% A process that keeps what it receives; collected/2 gives the first N of it.
collector() ->
    spawn(fun() -> collect([]) end).

collect(Got) ->
    receive
        {give, N, To} when length(Got) >= N ->
            To ! {collected, self(), lists:sublist(lists:reverse(Got), N)},
            collect(Got);
        Message when element(1, Message) =/= give ->
            collect([Message | Got])
    end.

collected(Collector, N) ->
    Collector ! {give, N, self()},
    receive
        {collected, Collector, Messages} -> Messages
    after 5000 ->
        ct:fail({fewer_than, N, messages_passed_on})
    end.

drain() ->
    receive M -> [M | drain()] after 0 -> [] end.

host() ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Host.
