%% The emulator's side of the codec tests and benchmark: each test function takes a list and
%% answers for every element, so one round trip checks a whole batch.
-module(etf_oracle).
-export([decode_each/1, compare_each/1, format_each/1, calibrate/2, bench/3]).

%% binary_to_term of each binary, re-encoded as term_to_binary(T, [{minor_version, 2}]).
decode_each(Bins) ->
    [try {ok, term_to_binary(binary_to_term(B), [{minor_version, 2}])} catch _:_ -> error end || B <- Bins].

%% For each {A, B}: the term order (-1, 0, 1 as <, ==, >) and the map-key order (exact).
compare_each(Pairs) ->
    [{order(A, B), erts_internal:cmp_term(A, B)} || {A, B} <- Pairs].

order(A, B) when A < B -> -1;
order(A, B) when A == B -> 0;
order(_, _) -> 1.

%% ~w and single-line ~p of each term.
format_each(Terms) ->
    [{unicode:characters_to_binary(io_lib:format("~w", [T])),
      unicode:characters_to_binary(io_lib:print(T, 1, 100000000, -1))} || T <- Terms].

%% Benchmark loops. calibrate/2: how many binary_to_term/1 calls of Bin, and how many
%% term_to_binary/2 calls of the term it holds, take about Ms milliseconds each.
calibrate(Bin, Ms) ->
    {Dec, Enc} = loops(Bin),
    {calls(Dec, 1, Ms * 1000000), calls(Enc, 1, Ms * 1000000)}.

%% Nanoseconds per call over exactly DecN decodes and EncN encodes, each loop first run a
%% quarter as many times untimed, as the other side of the benchmark does.
bench(Bin, DecN, EncN) ->
    {Dec, Enc} = loops(Bin),
    {warm_timed(Dec, DecN) / DecN, warm_timed(Enc, EncN) / EncN}.

loops(Bin) ->
    T = binary_to_term(Bin),
    {fun(N) -> decode_loop(Bin, N, none) end, fun(N) -> encode_loop(T, N, none) end}.

calls(F, N, Budget) ->
    case timed(F, N) of
        T when T >= Budget div 4 -> max(1, N * Budget div max(T, 1));
        _ -> calls(F, N * 4, Budget)
    end.

warm_timed(F, N) ->
    _ = F(max(1, N div 4)),
    timed(F, N).

timed(F, N) ->
    T0 = erlang:monotonic_time(nanosecond),
    _ = F(N),
    erlang:monotonic_time(nanosecond) - T0.

%% Each result is kept until the next call has made its own, and the last is returned: the
%% other side keeps what it made the same way.
decode_loop(_, 0, Last) -> Last;
decode_loop(B, N, _) -> decode_loop(B, N - 1, binary_to_term(B)).

encode_loop(_, 0, Last) -> Last;
encode_loop(T, N, _) -> encode_loop(T, N - 1, term_to_binary(T, [{minor_version, 2}])).
