%% The manual's functions that are not about one connection, and its 3.9-only ones.
-module(sc_library).

-include("conf.hrl").

-export([seed/1, version/1, ciphers/1, pid_is_for_exit_messages/1, peercert_forms/1,
         format_error/1]).

seed(#{mod := M}) ->
    ?note(binary, M:seed(<<"entropy">>)),
    ?note(iolist, M:seed(["ent", [$r], <<"opy">>])).

version(#{mod := M}) ->
    ?note(version, M:version()).

ciphers(#{mod := M}) ->
    ?note(ciphers, M:ciphers()).

%% "The returned pid should only be used for receiving exit messages."
pid_is_for_exit_messages(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(pid, M:pid(Client)).

peercert_forms(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(peercert, M:peercert(Client, [pkix])).

%% The manual's ERRORS section gives each reason's text.
format_error(#{mod := M}) ->
    [?note(Reason, M:format_error(Reason)) || Reason <- [closed, eoptions, esslaccept]],
    ok.
