%% Runs a scenario with OTP's ssl and with a module of the bridge, normalises both traces and
%% compares them through a dialect table. Two APIs are compared so: ssl 3.9's scenarios run with
%% `ts_ssl_native' (OTP's ssl as the behaviour ts_ssl_api, erlang_stub/test) and `ts_ssl', table
%% conf_dialect; modern scenarios with `ssl' itself and `ts_ssl_otp', table conf_dialect_otp. Driven by test/conformance/runner.ts,
%% one scenario per call; usable from a shell too:
%%
%%   conf_runner:setup("/tmp/conf-certs"), conf_runner:compare(sc_close, close_twice, ts_ssl).
-module(conf_runner).

-include("conf.hrl").

-export([setup/1, scenarios/1, compare/3, compare/4, run/3, run/4, normalise/1]).
-export([row/4, row/5, dialect_table/0, dialect_table/1]).

-define(is_byte(X), (is_integer(X) andalso X >= 0 andalso X =< 255)).
%% A scenario that has not ended by then has hung (every wait inside one is ?WAIT, 5 s).
-define(LIMIT, 20000).

%% Starts what scenarios need: ssl, ts_ssl, the certificates (made in Dir, a new directory),
%% the trace table, and quiet logs (OTP's ssl reports every failed handshake it is shown).
-spec setup(file:filename()) -> ok.
setup(Dir) ->
    {ok, _} = application:ensure_all_started(ssl),
    ok = ts_ssl:start(),
    ok = logger:set_primary_config(level, none),
    Certs = ts_ssl_certs:make(Dir),
    persistent_term:put({?MODULE, certs}, Certs),
    persistent_term:put({?MODULE, ciphers}, cipher_names()),
    case ets:info(?TABLE, id) of
        undefined ->
            Self = self(),
            Owner = spawn(fun() ->
                                  ?TABLE = ets:new(?TABLE, [named_table, public, set]),
                                  Self ! {?MODULE, table},
                                  receive never -> ok end
                          end),
            receive {?MODULE, table} -> ok end,
            persistent_term:put({?MODULE, table_owner}, Owner);
        _ ->
            ok
    end,
    ok.

%% The scenarios of Modules, in the order they are written: every exported function of arity 1.
-spec scenarios([module()]) -> [{module(), atom()}].
scenarios(Modules) ->
    lists:append([module_scenarios(M) || M <- Modules]).

module_scenarios(Module) ->
    {module, Module} = code:ensure_loaded(Module),
    Exported = Module:module_info(exports),
    {ok, {Module, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(Module), [abstract_code]),
    [{Module, Name} || {function, _, Name, 1, _} <- Forms, lists:member({Name, 1}, Exported)].

%% One scenario with both modules: OTP's ssl (through ts_ssl_native) first, then Mod (ts_ssl; or
%% ts_ssl_native again to see that the scenario itself gives the same trace twice).
-spec compare(module(), atom(), module()) -> map().
compare(Module, Function, Mod) ->
    compare(Module, Function, Mod, ?LIMIT).

-spec compare(module(), atom(), module(), pos_integer()) -> map().
compare(Module, Function, Mod, Limit) ->
    compare(Module, Function, ts_ssl_native, Mod, Limit).

%% Reference is OTP's side: `ts_ssl_native' (3.9's names) or `ssl' (the modern API).
-spec compare(module(), atom(), ts_ssl_native | ssl, module(), pos_integer()) -> map().
compare(Module, Function, Reference, Mod, Limit) ->
    Otp = alert_texts(Reference, normalise(run(Module, Function, Reference, Limit))),
    Bridge = alert_texts(Reference, normalise(run(Module, Function, Mod, Limit))),
    {Verdict, Rules, At} = verdict(dialect(Reference), Otp, Bridge),
    #{module => Module, scenario => Function, verdict => Verdict, rules => Rules, at => At,
      otp => text(Otp), bridge => text(Bridge)}.

%% compare/4 as the TypeScript runner reads it: {Module, Scenario, Verdict, Rules, At, OtpLines,
%% BridgeLines}, At 0 when no step differs unexplained.
-spec row(module(), atom(), module(), pos_integer()) -> tuple().
row(Module, Function, Mod, Limit) ->
    row(Module, Function, ts_ssl_native, Mod, Limit).

-spec row(module(), atom(), ts_ssl_native | ssl, module(), pos_integer()) -> tuple().
row(Module, Function, Reference, Mod, Limit) ->
    #{verdict := Verdict, rules := Rules, at := At, otp := Otp, bridge := Bridge} =
        compare(Module, Function, Reference, Mod, Limit),
    {Module, Function, Verdict, Rules, case At of none -> 0; _ -> At end, Otp, Bridge}.

%% The dialect table of the scenarios run with Reference: conf_dialect for ssl 3.9's,
%% conf_dialect_otp for the modern API's (the same rule format).
-spec dialect(ts_ssl_native | ssl) -> module().
dialect(ts_ssl_native) -> conf_dialect;
dialect(ssl) -> conf_dialect_otp.

%% The dialect table as the README shows it: [{Name, Otp, TsSsl, Why}] as binaries.
-spec dialect_table() -> [{atom(), binary(), binary(), binary()}].
dialect_table() ->
    dialect_table(ts_ssl_native).

-spec dialect_table(ts_ssl_native | ssl) -> [{atom(), binary(), binary(), binary()}].
dialect_table(Reference) ->
    [{Name, b(Otp), b(TsSsl), b(Why)}
     || #{name := Name, otp := Otp, ts_ssl := TsSsl, why := Why} <- (dialect(Reference)):rules()].

b(Text) ->
    unicode:characters_to_binary(Text).

%% The trace of one run: the steps noted ({Label, Call, Value}, see conf:note/3), then how the
%% scenario ended: `returned' with its value, `crashed' with {Class, Reason}, `died' with the
%% exit signal that ended it, or `hang' with the time it was given.
-spec run(module(), atom(), module()) -> [{term(), atom(), term()}].
run(Module, Function, Mod) ->
    run(Module, Function, Mod, ?LIMIT).

-spec run(module(), atom(), module(), pos_integer()) -> [{term(), atom(), term()}].
run(Module, Function, Mod, Limit) ->
    Ctx = #{mod => Mod, certs => persistent_term:get({?MODULE, certs})},
    Parent = self(),
    Ref = make_ref(),
    {Pid, Monitor} =
        spawn_monitor(fun() ->
                              End = try Module:Function(Ctx) of
                                        Value -> ending(returned, Value)
                                    catch
                                        Class:Reason -> ending(crashed, {Class, Reason})
                                    end,
                              Parent ! {Ref, with_end(conf:trace(), End)},
                              %% Ends whatever the scenario left linked to it: helpers and
                              %% ts_ssl's sockets by their links, OTP's by their monitors.
                              exit(scenario_over)
                      end),
    Trace = receive
                {Ref, T} -> T;
                {'DOWN', Monitor, process, Pid, Reason} -> noted(Pid) ++ [ending(died, Reason)]
            after Limit ->
                exit(Pid, kill),
                noted(Pid) ++ [ending(hang, Limit)]
            end,
    erlang:demonitor(Monitor, [flush]),
    ets:delete(?TABLE, Pid),
    Trace.

ending(How, What) ->
    {How, How, What}.

%% A scenario's value is usually its last note's (?note gives the value back): not twice.
with_end(Steps, {returned, _, Value} = End) ->
    case lists:reverse(Steps) of
        [{_, _, Value} | _] -> Steps;
        _ -> Steps ++ [End]
    end;
with_end(Steps, End) ->
    Steps ++ [End].

noted(Pid) ->
    case ets:lookup(?TABLE, Pid) of
        [{_, Steps}] -> lists:reverse(Steps);
        [] -> []
    end.

%%% Comparing

%% same: equal traces. dialect: every step that differs is explained by a rule. diff: a step
%% (its 1-based index) that no rule explains, or traces of different lengths.
verdict(Dialect, Otp, Bridge) ->
    verdict(Dialect, Otp, Bridge, 1, []).

verdict(_D, [], [], _I, []) ->
    {same, [], none};
verdict(_D, [], [], _I, Rules) ->
    {dialect, lists:usort(Rules), none};
verdict(D, [Step | Otp], [Step | Bridge], I, Rules) ->
    verdict(D, Otp, Bridge, I + 1, Rules);
verdict(D, [{Label, Call, O} | Otp], [{Label, Call, B} | Bridge], I, Rules) ->
    case explain(D, Call, O, B) of
        {explained, Explained} -> verdict(D, Otp, Bridge, I + 1, Explained ++ Rules);
        unexplained -> {diff, lists:usort(Rules), I}
    end;
verdict(_D, _, _, I, Rules) ->
    {diff, lists:usort(Rules), I}.

%% The rules that explain OTP's value beside the bridge's at a step about Call: rules that hold
%% for the two values, else, for two tuples (or lists) of one size, rules that explain each pair
%% of elements that differ. So a scenario may note `{Accepted, Received}' as one step.
explain(_D, _Call, Same, Same) ->
    {explained, []};
explain(D, Call, Otp, Bridge) ->
    case D:explain(Call, Otp, Bridge) of
        [] -> explain_parts(D, Call, parts(Otp), parts(Bridge));
        Rules -> {explained, Rules}
    end.

explain_parts(D, Call, {Kind, Os}, {Kind, Bs}) when length(Os) =:= length(Bs) ->
    lists:foldl(fun({O, B}, {explained, Acc}) ->
                        case explain(D, Call, O, B) of
                            {explained, Rules} -> {explained, Rules ++ Acc};
                            unexplained -> unexplained
                        end;
                   (_, unexplained) ->
                        unexplained
                end, {explained, []}, lists:zip(Os, Bs));
explain_parts(_, _, _, _) ->
    unexplained.

parts(T) when is_tuple(T) -> {tuple, tuple_to_list(T)};
parts(L) when is_list(L) ->
    try length(L) of _ -> {list, L} catch error:badarg -> none end;
parts(_) -> none.

text(Trace) ->
    [unicode:characters_to_binary(io_lib:format("~0tp: ~0tp", [Label, Value]))
     || {Label, _Call, Value} <- Trace].

%%% Alert texts

%% In the modern API an alert's text is OTP's diagnostic, with the state machine's state and the
%% source file and line that raised it. What it says about the connection is kept: which side
%% wrote it, and whether the alert was generated there or received from the peer:
%% `{tls_alert, {Alert, {'#AlertText', client | server, generated | received}}}'.
alert_texts(ts_ssl_native, Trace) ->
    Trace;
alert_texts(ssl, Trace) ->
    [{Label, Call, alert_text(Value)} || {Label, Call, Value} <- Trace].

alert_text({tls_alert, {Alert, Text}}) when is_atom(Alert), is_list(Text) ->
    Side = case string:prefix(Text, "TLS server") of nomatch -> client; _ -> server end,
    How = case string:find(Text, " received ") of nomatch -> generated; _ -> received end,
    {tls_alert, {Alert, {'#AlertText', Side, How}}};
alert_text(Tuple) when is_tuple(Tuple) ->
    list_to_tuple(alert_text(tuple_to_list(Tuple)));
alert_text([H | T]) ->
    [alert_text(H) | alert_text(T)];
alert_text(Other) ->
    Other.

%%% Normalising: what differs between any two runs is replaced by placeholders

%% Sockets become '#S1', '#S2', ... and pids '#Pid1', ... in the order they first appear (so a
%% trace still says which socket a message is about); references, ports and funs become
%% '#Ref', '#Port', '#Fun'; TCP port numbers in {IP, Port} addresses '#TcpPort'; cipher names
%% (OpenSSL's or IANA's) and OTP's cipher suite maps '#Cipher', a colon-separated list of them
%% (ciphers/0) '#Ciphers'.
-spec normalise(term()) -> term().
normalise(Term) ->
    {Normal, _} = norm(Term, #{}),
    Normal.

norm({sslsocket, _, _} = Socket, Seen) ->
    numbered('S', Socket, Seen);
norm(Pid, Seen) when is_pid(Pid) ->
    numbered('Pid', Pid, Seen);
norm(Ref, Seen) when is_reference(Ref) ->
    {'#Ref', Seen};
norm(Port, Seen) when is_port(Port) ->
    {'#Port', Seen};
norm(Fun, Seen) when is_function(Fun) ->
    {'#Fun', Seen};
norm({{A, B, C, D} = Ip, Port}, Seen)
  when ?is_byte(A), ?is_byte(B), ?is_byte(C), ?is_byte(D), is_integer(Port), Port > 0,
       Port < 65536 ->
    {{Ip, '#TcpPort'}, Seen};
norm(#{cipher := _, key_exchange := _, mac := _, prf := _}, Seen) ->
    {'#Cipher', Seen};
norm(Tuple, Seen) when is_tuple(Tuple) ->
    {List, Seen1} = norm_list(tuple_to_list(Tuple), Seen),
    {list_to_tuple(List), Seen1};
norm(Map, Seen) when is_map(Map) ->
    {Pairs, Seen1} = norm_list(lists:sort(maps:to_list(Map)), Seen),
    {maps:from_list(Pairs), Seen1};
norm([_ | _] = List, Seen) ->
    case {is_cipher_name(List), is_cipher_list(List)} of
        {true, _} -> {'#Cipher', Seen};
        {_, true} -> {'#Ciphers', Seen};
        _ -> norm_list(List, Seen)
    end;
norm(Other, Seen) ->
    {Other, Seen}.

%% Lists, improper ones too.
norm_list([], Seen) ->
    {[], Seen};
norm_list([H | T], Seen) ->
    {H1, Seen1} = norm(H, Seen),
    {T1, Seen2} = norm_list(T, Seen1),
    {[H1 | T1], Seen2};
norm_list(Tail, Seen) ->
    norm(Tail, Seen).

numbered(Kind, Term, Seen) ->
    case Seen of
        #{Term := Name} ->
            {Name, Seen};
        #{} ->
            N = maps:get({count, Kind}, Seen, 0) + 1,
            Name = list_to_atom(lists:concat(["#", Kind, N])),
            {Name, Seen#{Term => Name, {count, Kind} => N}}
    end.

is_cipher_name(List) ->
    io_lib:printable_latin1_list(List)
        andalso maps:is_key(List, persistent_term:get({?MODULE, ciphers}, #{})).

%% "NAME:NAME:...", as ciphers/0 answers.
is_cipher_list(List) ->
    io_lib:printable_latin1_list(List) andalso
        case string:lexemes(List, ":") of
            [_, _ | _] = Names ->
                lists:all(fun(N) -> re:run(N, "^[A-Z0-9_-]+$", [{capture, none}]) =:= match end,
                          Names);
            _ ->
                false
        end.

%% Every cipher suite name this OTP knows, in OpenSSL's spelling and in IANA's.
cipher_names() ->
    Versions = ['tlsv1.3', 'tlsv1.2', 'tlsv1.1', tlsv1],
    Suites = lists:usort(lists:append([ssl:cipher_suites(all, V) || V <- Versions])),
    Names = lists:append([names(S) || S <- Suites]),
    maps:from_list([{N, true} || N <- Names, is_list(N)]).

names(Suite) ->
    [Name || F <- [suite_to_openssl_str, suite_to_str],
             Name <- [try ssl:F(Suite) catch _:_ -> none end]].
