%% A guard against a hang, never a measure: what is awaited comes long before.
-define(WAIT, 20000).
