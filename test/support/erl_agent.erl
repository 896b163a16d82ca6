%% Test agent: lets a TypeScript test drive a real Erlang node.
%%
%% The node is started with two extra pipes (fds 3 and 4); requests arrive on fd 3 and replies
%% leave on fd 4, each framed with a 4-byte length, so stdout and stderr stay free for the
%% node's own logs. When the test process dies the pipe closes and the node halts, so no node
%% outlives its test.
%%
%% Request:  <<Id:32, Kind:8, Body/binary>>
%%   Kind 0: Body is Erlang source ("Expr, Expr."); evaluated in a new process with the
%%           bindings left by earlier evaluations (like a shell), which it extends.
%%   Kind 1: Body is an external term T; the reply is term_to_binary(T) (a codec oracle).
%%   Kind 2: Body is {Opts, T} as an external term; the reply is term_to_binary(T, Opts).
%%   Kind 3: Body is bytes; the reply is binary_to_term(Body) re-encoded, or an error.
%% Reply:    <<Id:32, Status:8, TextLen:32, Text:TextLen/binary, Etf/binary>>
%%   Status 0 = ok (Text is the value printed with ~p, Etf its term_to_binary),
%%   Status 1 = the evaluation raised (Text is Class:Reason and the stack).
-module(erl_agent).
-export([main/0]).

main() ->
    Port = open_port({fd, 3, 4}, [{packet, 4}, binary, eof]),
    process_flag(trap_exit, true),
    loop(Port, erl_eval:new_bindings()).

loop(Port, Bindings) ->
    receive
        {Port, {data, <<Id:32, 0:8, Source/binary>>}} ->
            Self = self(),
            spawn(fun() -> Self ! {done, Id, eval(binary_to_list(Source), Bindings)} end),
            loop(Port, Bindings);
        {Port, {data, <<Id:32, Kind:8, Body/binary>>}} ->
            reply(Port, Id, codec(Kind, Body)),
            loop(Port, Bindings);
        {done, Id, {ok, Value, NewBindings}} ->
            reply(Port, Id, {ok, Value}),
            loop(Port, merge(Bindings, NewBindings));
        {done, Id, Error} ->
            reply(Port, Id, Error),
            loop(Port, Bindings);
        {Port, eof} ->
            erlang:halt(0);
        {'EXIT', Port, _} ->
            erlang:halt(0);
        _Other ->
            loop(Port, Bindings)
    end.

merge(Old, New) ->
    lists:foldl(fun({K, V}, Acc) -> erl_eval:add_binding(K, V, Acc) end, Old, erl_eval:bindings(New)).

eval(Source, Bindings) ->
    try
        {ok, Tokens, _} = erl_scan:string(Source),
        {ok, Exprs} = erl_parse:parse_exprs(Tokens),
        {value, Value, NewBindings} = erl_eval:exprs(Exprs, Bindings),
        {ok, Value, NewBindings}
    catch
        Class:Reason:Stack -> {raised, Class, Reason, Stack}
    end.

codec(1, Body) ->
    safe(fun() -> {raw, term_to_binary(binary_to_term(Body))} end);
codec(2, Body) ->
    safe(fun() -> {Opts, T} = binary_to_term(Body), {raw, term_to_binary(T, Opts)} end);
codec(3, Body) ->
    safe(fun() -> {raw, term_to_binary(binary_to_term(Body), [{minor_version, 2}])} end).

safe(F) ->
    try F() catch Class:Reason:Stack -> {raised, Class, Reason, Stack} end.

reply(Port, Id, {ok, Value}) ->
    Text = unicode:characters_to_binary(io_lib:format("~tp", [Value])),
    Etf = term_to_binary(Value, [{minor_version, 2}]),
    port_command(Port, [<<Id:32, 0:8, (byte_size(Text)):32>>, Text, Etf]);
reply(Port, Id, {raw, Etf}) ->
    port_command(Port, [<<Id:32, 0:8, 0:32>>, Etf]);
reply(Port, Id, {raised, Class, Reason, Stack}) ->
    Text = unicode:characters_to_binary(io_lib:format("~p:~tp~n~tp", [Class, Reason, Stack])),
    Etf = term_to_binary({Class, Reason}),
    port_command(Port, [<<Id:32, 1:8, (byte_size(Text)):32>>, Text, Etf]).
