%% A connection that fails after its handshake: a record from the peer that fails its integrity
%% check (changed on the way by conf:tampering_relay/1), seen in active and passive mode.
-module(md_errors).

-include("conf.hrl").

-export([tampered_record_active/1, tampered_record_passive/1, tampered_record_active_n/1]).

%% M connects through the relay to the fixed peer; the peer's first message arrives whole.
through_relay(#{mod := M} = C, Options) ->
    {L, Port} = conf:peer_listen(C, conf:server(C)),
    Accepting = conf:peer_accept(L),
    {RelayPort, Relay} = conf:tampering_relay(Port),
    {ok, S} = M:connect("localhost", RelayPort, [binary | Options], ?WAIT),
    {ok, Peer} = conf:await(Accepting),
    ok = ssl:close(L),
    ok = conf:peer_send(Peer, <<"whole">>),
    {S, Peer, Relay}.

tampered_record_active(C) ->
    {S, Peer, Relay} = through_relay(C, [{active, true}]),
    ?note(first, conf:next(S)),
    Relay ! tamper,
    ok = conf:peer_send(Peer, <<"changed on the way">>),
    ?note(error, conf:next(S)),
    ?note(then, conf:next(S, 500)).

tampered_record_active_n(C) ->
    {S, Peer, Relay} = through_relay(C, [{active, 5}]),
    ?note(first, conf:next(S)),
    Relay ! tamper,
    ok = conf:peer_send(Peer, <<"changed on the way">>),
    ?note(error, conf:next(S)),
    ?note(then, conf:next(S, 500)).

tampered_record_passive(#{mod := M} = C) ->
    {S, Peer, Relay} = through_relay(C, [{active, false}]),
    ?note(first, M:recv(S, 0, ?WAIT)),
    Relay ! tamper,
    ok = conf:peer_send(Peer, <<"changed on the way">>),
    ?note(recv, M:recv(S, 0, ?WAIT)),
    ?note(again, M:recv(S, 0, ?WAIT)).
