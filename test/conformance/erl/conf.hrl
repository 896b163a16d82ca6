%% Included by every scenario module (test/conformance/scenarios/*.erl), and by conf and
%% conf_runner.
%%
%% ?note(Label, Expr) evaluates Expr, writes `{Label, Value}' into the scenario's trace and gives
%% the value back. An exception is written (and given back) as `{raised, Class, Reason}', so
%% that a call that crashes on one side and answers on the other is compared, not lost. The
%% expression's text goes along: a dialect rule that is about one function applies to a step
%% whose expression is `M:Function(...)' (or, for a value computed elsewhere, whose label is
%% the function's name).
-define(note(Label, Expr), conf:note(Label, ??Expr, fun() -> Expr end)).

%% How long a scenario waits for something that should come at once. A guard against a hang,
%% never a measure: the runner's own per-scenario limit is larger still.
-define(WAIT, 5000).

%% The ets table of traces, by scenario process (made by conf_runner:setup/1, written by
%% conf:note/3, read by conf_runner when the scenario is over, however it ended).
-define(TABLE, conf_trace).
