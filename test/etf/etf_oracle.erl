%% The emulator's side of the codec tests and benchmark: each test function takes a list and
%% answers for every element, so one round trip checks a whole batch.
-module(etf_oracle).
-export([decode_each/1, compare_each/1, format_each/1, bench/3]).

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

%% Benchmark loops: nanoseconds per binary_to_term/1 and per term_to_binary/2 of Bin, the
%% median of Rounds rounds of about Ms milliseconds each (the iteration count is calibrated).
bench(Bin, Rounds, Ms) ->
    T = binary_to_term(Bin),
    Dec = fun(N) -> decode_loop(Bin, N) end,
    Enc = fun(N) -> encode_loop(T, N) end,
    {median_ns(Dec, Rounds, Ms), median_ns(Enc, Rounds, Ms)}.

median_ns(F, Rounds, Ms) ->
    N = calibrate(F, 1, Ms * 1000000),
    Times = lists:sort([timed(F, N) / N || _ <- lists:seq(1, Rounds)]),
    lists:nth((Rounds + 1) div 2, Times).

calibrate(F, N, Budget) ->
    case timed(F, N) of
        T when T >= Budget div 4 -> max(1, N * Budget div max(T, 1));
        _ -> calibrate(F, N * 4, Budget)
    end.

timed(F, N) ->
    T0 = erlang:monotonic_time(nanosecond),
    F(N),
    erlang:monotonic_time(nanosecond) - T0.

decode_loop(_, 0) -> ok;
decode_loop(B, N) -> _ = binary_to_term(B), decode_loop(B, N - 1).

encode_loop(_, 0) -> ok;
encode_loop(T, N) -> _ = term_to_binary(T, [{minor_version, 2}]), encode_loop(T, N - 1).
