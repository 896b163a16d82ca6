%% The emulator's side of the codec tests: each function takes a list and answers for every
%% element, so one round trip checks a whole batch.
-module(etf_oracle).
-export([decode_each/1, compare_each/1, format_each/1, sort/1]).

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

sort(Terms) -> lists:sort(Terms).
