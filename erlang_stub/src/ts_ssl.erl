%% @doc The ssl 3.9 API (see the ssl(3) manual page of ssl 3.9), served by a ts-ssl bridge node.
-module(ts_ssl).

-export([version/0]).

-spec version() -> {ok, {string(), string(), string()}} | {error, enotstarted}.
version() ->
    {error, enotstarted}.
