%% The connections the ts_ssl suites make, between the API under test (`mod' in the CT config:
%% ts_ssl or ts_ssl_native) and a native ssl peer, and what the scenarios read from them.
-module(ts_ssl_conn).

-include("ts_ssl_test.hrl").

-export([mod/1, certs/1, file/2, server_options/1, client_options/1, ca/1, verify_1/1, port/2,
         pair/3, pair/4, connect_to/3, connect_to/4, accept_from/3, exchange/3,
         passive_data/3, active_data/2, next_message/1, no_message/1, queued/1, relay/0,
         receive_relayed/0, chunks/2, hash_passive/3, hash_active/2]).

-import(ts_ssl_peers, [await/1, native_listen/1, native_accept/1, native_connect/2]).

mod(Config) -> proplists:get_value(mod, Config).
certs(Config) -> proplists:get_value(certs, Config).
file(Config, Name) -> ts_ssl_certs:path(certs(Config), Name).

server_options(Config) ->
    [{certfile, file(Config, "server.pem")}, {keyfile, file(Config, "server.key")}].

client_options(Config) ->
    [{certfile, file(Config, "client.pem")}, {keyfile, file(Config, "client.key")}].

ca(Config) ->
    [{cacertfile, file(Config, "ca.pem")}].

verify_1(Config) ->
    [{verify, 1} | ca(Config)].

port(Mod, Listen) ->
    {ok, {_, Port}} = Mod:sockname(Listen),
    Port.

%% A connection between the API under test, on Role's side, and native ssl on the other:
%% {Socket, NativeSocket}, both owned by the caller. The native end is passive and binary.
pair(Config, Role, Options) ->
    pair(Config, Role, Options, []).

pair(Config, server, Options, NativeOptions) ->
    Mod = mod(Config),
    {ok, Listen} = Mod:listen(0, server_options(Config) ++ Options),
    Native = native_connect(port(Mod, Listen), NativeOptions),
    {ok, S} = Mod:accept(Listen),
    {ok, Peer} = await(Native),
    {S, Peer};
pair(Config, client, Options, NativeOptions) ->
    Mod = mod(Config),
    {Listen, Port} = native_listen(server_options(Config) ++ NativeOptions),
    Native = native_accept(Listen),
    {ok, S} = Mod:connect("127.0.0.1", Port, Options),
    {ok, Peer} = await(Native),
    {S, Peer}.

%% ts_ssl connects, with Options, to a native server presenting Name.pem (and the certificates
%% of ChainFile after it).
connect_to(Config, Name, Options) ->
    connect_to(Config, Name, Name ++ ".pem", Options).

connect_to(Config, Name, ChainFile, Options) ->
    {Listen, Port} = native_listen([{certfile, file(Config, Name ++ ".pem")},
                                    {keyfile, file(Config, Name ++ ".key")},
                                    {cacertfile, file(Config, ChainFile)}]),
    _ = native_accept(Listen),
    ts_ssl:connect("127.0.0.1", Port, Options).

%% A native client with ClientOptions connects to ts_ssl listening with ServerOptions:
%% {what ts_ssl:accept/1 says, the client's await reference}.
accept_from(Config, ServerOptions, ClientOptions) ->
    {ok, Listen} = ts_ssl:listen(0, ServerOptions ++ server_options(Config)),
    Native = native_connect(port(ts_ssl, Listen), ClientOptions),
    {ts_ssl:accept(Listen), Native}.

exchange(Mod, S, Peer) ->
    ok = Mod:send(S, <<"ping">>),
    {ok, <<"ping">>} = ssl:recv(Peer, 4, ?WAIT),
    ok = ssl:send(Peer, <<"pong">>),
    <<"pong">> = passive_data(Mod, S, 4),
    ok.

%% Size bytes from a passive socket, in the socket's mode.
passive_data(Mod, S, Size) ->
    passive_data(Mod, S, Size, []).

passive_data(_Mod, _S, 0, Acc) ->
    join(lists:reverse(Acc));
passive_data(Mod, S, Left, Acc) ->
    {ok, Data} = Mod:recv(S, 0, ?WAIT),
    passive_data(Mod, S, Left - iolist_size(Data), [Data | Acc]).

%% Size bytes of {ssl, S, Data} messages, in the socket's mode.
active_data(S, Size) ->
    active_data(S, Size, []).

active_data(_S, 0, Acc) ->
    join(lists:reverse(Acc));
active_data(S, Left, Acc) ->
    Data = next_message(S),
    active_data(S, Left - iolist_size(Data), [Data | Acc]).

%% Pieces all of one mode, joined in that mode.
join([First | _] = Pieces) when is_binary(First) ->
    true = lists:all(fun is_binary/1, Pieces),
    iolist_to_binary(Pieces);
join(Pieces) ->
    true = lists:all(fun is_list/1, Pieces),
    lists:append(Pieces).

next_message(S) ->
    receive
        {ssl, S, Data} -> Data;
        {ssl_closed, S} -> ct:fail(closed);
        {ssl_error, S, Reason} -> ct:fail({ssl_error, Reason})
    after ?WAIT ->
        ct:fail(no_data)
    end.

%% Nothing from S in the mailbox: to be asked only after a reply from the socket's side that
%% came after anything it could have sent.
no_message(S) ->
    receive
        {ssl, S, _} = M -> ct:fail({unexpected, M})
    after 0 ->
        nothing
    end.

queued(S) ->
    {messages, Messages} = process_info(self(), messages),
    length([M || {ssl, S1, _} = M <- Messages, S1 =:= S]).

%% A process that sends the caller everything it receives.
relay() ->
    Parent = self(),
    spawn_link(fun Loop() -> receive M -> Parent ! {relayed, M}, Loop() end end).

receive_relayed() ->
    receive {relayed, _} = R -> R after ?WAIT -> ct:fail(nothing_relayed) end.

chunks(<<>>, _Size) -> [];
chunks(Data, Size) when byte_size(Data) =< Size -> [Data];
chunks(Data, Size) ->
    <<Chunk:Size/binary, Rest/binary>> = Data,
    [Chunk | chunks(Rest, Size)].

hash_passive(Mod, S, Size) ->
    hash_passive(Mod, S, Size, crypto:hash_init(sha256)).

hash_passive(_Mod, _S, 0, Hash) ->
    crypto:hash_final(Hash);
hash_passive(Mod, S, Left, Hash) ->
    {ok, Data} = Mod:recv(S, 0, ?WAIT),
    hash_passive(Mod, S, Left - byte_size(Data), crypto:hash_update(Hash, Data)).

hash_active(S, Size) ->
    hash_active(S, Size, crypto:hash_init(sha256)).

hash_active(_S, 0, Hash) ->
    crypto:hash_final(Hash);
hash_active(S, Left, Hash) ->
    Data = next_message(S),
    hash_active(S, Left - byte_size(Data), crypto:hash_update(Hash, Data)).
