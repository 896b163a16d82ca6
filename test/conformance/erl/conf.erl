%% What scenarios are written with: the trace (`?note', conf.hrl), a little concurrency (`async/1',
%% `await/1'), the mailbox (`next/1', `nothing/1'), options built from the certificates made for
%% the run, and the fixed peer: native OTP `ssl' (modern API), or plain `gen_tcp', on the other
%% end of a connection when a scenario wants only one end under test.
%%
%% A scenario is `Name(Ctx) -> term()', with Ctx = #{mod := M, certs := Certs}. M is `ts_ssl',
%% or `ts_ssl_native' (OTP's own ssl as the ssl 3.9 API); a scenario calls `M:listen/2',
%% `M:ssl_accept/1', ... exactly as the ssl 3.9 manual writes them. A modern scenario
%% (test/conformance/modern/) has M `ssl' or `ts_ssl_otp' and calls OTP 25's API.
-module(conf).

-include("conf.hrl").

-export([note/3, trace/0]).
-export([async/1, await/1, still_waiting/1, owned/2, connecting/4, next/1, next/2, nothing/1,
         pause/0]).
-export([file/2, password/1, server/1, server/2, client/1, ca/1]).
-export([port/2, pair/2, pair/3, loopback/0, server_handshake/3]).
-export([active_bytes/3, passive_bytes/3, chunks/2]).
-export([peer_listen/2, peer_accept/1, peer_connect/2, peer_connect/3, peer_pair/3,
         peer_send/2, peer_recv/1]).
-export([tcp_listen/0, tcp_listen/1, tcp_connect/1, tcp_accept/1, tcp_pair/0, tampering_relay/1]).

%% Traces are kept in ?TABLE (conf.hrl) rather than the process dictionary, so that the runner
%% still reads the steps of a scenario that hung or was ended by an exit signal. Without the
%% table (a scenario called from a shell) the process dictionary serves.

%%% The trace

%% Fun's value (or what it raised), written into the trace under Label as `{Label, Call, Value}',
%% Call being the function of the module under test that Expression (Fun's source text) calls,
%% else Label. Notes come from the scenario's own process, so that their order is the scenario's.
-spec note(term(), string(), fun(() -> term())) -> term().
note(Label, Expression, Fun) ->
    Value = try Fun() catch Class:Reason -> {raised, Class, Reason} end,
    Steps = [{Label, call(Label, Expression), Value} | steps()],
    case ets:info(?TABLE, id) of
        undefined -> put(?TABLE, Steps);
        _ -> ets:insert(?TABLE, {self(), Steps})
    end,
    Value.

call(Label, Expression) ->
    case re:run(Expression, "^\\s*M\\s*:\\s*([a-z][A-Za-z0-9_]*)\\s*\\(", [{capture, all_but_first, list}]) of
        {match, [Function]} -> list_to_atom(Function);
        nomatch -> Label
    end.

%% The steps noted so far, first first.
-spec trace() -> [{term(), term(), term()}].
trace() ->
    lists:reverse(steps()).

steps() ->
    case ets:info(?TABLE, id) =/= undefined andalso ets:lookup(?TABLE, self()) of
        [{_, Steps}] -> Steps;
        [] -> [];
        false -> case get(?TABLE) of undefined -> []; Steps -> Steps end
    end.

%%% Concurrency and the mailbox

%% Runs Fun in a process linked to the scenario (so that it ends with it); await/1 gives its value.
-spec async(fun(() -> term())) -> reference().
async(Fun) ->
    Parent = self(),
    Ref = make_ref(),
    _ = spawn_link(fun() ->
                           Value = try Fun() catch Class:Reason -> {raised, Class, Reason} end,
                           Parent ! {Ref, Value}
                   end),
    Ref.

-spec await(reference()) -> term().
await(Ref) ->
    receive {Ref, Value} -> Value after ?WAIT -> no_answer end.

%% `waiting' while the call started by async/1 has not answered, else `{answered, Value}' (which
%% await/1 then no longer gets).
-spec still_waiting(reference()) -> waiting | {answered, term()}.
still_waiting(Ref) ->
    receive {Ref, Value} -> {answered, Value} after 0 -> waiting end.

%% Like async/1 for a Fun that makes a socket with M: when it gives `{ok, S}', S is handed to
%% the caller (M:controlling_process/2) before await/1 sees it, so that it outlives the helper.
-spec owned(module(), fun(() -> term())) -> reference().
owned(M, Fun) ->
    Parent = self(),
    async(fun() ->
                  case Fun() of
                      {ok, S} ->
                          case M:controlling_process(S, Parent) of
                              ok -> {ok, S};
                              Refused -> {controlling_process, Refused}
                          end;
                      Other ->
                          Other
                  end
          end).

%% M:connect/3 in another process, for when the other end is accepted after it starts.
-spec connecting(module(), term(), inet:port_number(), list()) -> reference().
connecting(M, Address, Port, Options) ->
    owned(M, fun() -> M:connect(Address, Port, Options) end).

%% The next message about socket S: `{ssl, S, Data}', `{ssl_closed, S}', `{ssl_error, S, R}',
%% `{ssl_passive, S}', or `no_message' when none comes in time.
-spec next(term()) -> term().
next(S) ->
    next(S, ?WAIT).

%% next/1 waiting Ms milliseconds: for a message that should not come, a shorter wait.
-spec next(term(), timeout()) -> term().
next(S, Ms) ->
    receive
        {ssl, S, _} = M -> M;
        {ssl_closed, S} = M -> M;
        {ssl_error, S, _} = M -> M;
        {ssl_passive, S} = M -> M
    after Ms ->
        no_message
    end.

%% Every message about S already in the mailbox (none waited for): to be asked after something
%% that came from the socket's side after anything it could have sent.
-spec nothing(term()) -> [term()].
nothing(S) ->
    receive
        {Tag, S} = M when Tag =:= ssl_closed; Tag =:= ssl_passive -> [M | nothing(S)];
        {Tag, S, _} = M when Tag =:= ssl; Tag =:= ssl_error -> [M | nothing(S)]
    after 0 ->
        []
    end.

%% Lets a moment pass so that something under way elsewhere (a TCP connect, a close) lands
%% first. It only orders events; no result depends on how long it is.
-spec pause() -> ok.
pause() ->
    timer:sleep(100).

%%% Certificates and options (files made by ts_ssl_certs:make/1 for the run)

-spec file(map(), string()) -> string().
file(#{certs := Certs}, Name) ->
    ts_ssl_certs:path(Certs, Name).

-spec password(map()) -> string().
password(#{certs := #{password := Password}}) ->
    Password.

%% {certfile, _} and {keyfile, _} for the certificate Name (`server', `client', `expired', ...).
-spec server(map()) -> [tuple()].
server(Ctx) ->
    server(Ctx, "server").

-spec server(map(), string()) -> [tuple()].
server(Ctx, Name) ->
    [{certfile, file(Ctx, Name ++ ".pem")}, {keyfile, file(Ctx, Name ++ ".key")}].

-spec client(map()) -> [tuple()].
client(Ctx) ->
    server(Ctx, "client").

-spec ca(map()) -> [tuple()].
ca(Ctx) ->
    [{cacertfile, file(Ctx, "ca.pem")}].

-spec loopback() -> inet:ip4_address().
loopback() ->
    {127, 0, 0, 1}.

%%% Both ends under test

-spec port(module(), term()) -> inet:port_number().
port(M, Listen) ->
    {ok, {_, Port}} = M:sockname(Listen),
    Port.

%% A connection with both ends made by M: {Client, Server}, both owned by the caller, with
%% Options on both. The manual's way: transport_accept and ssl_accept in a spawned process.
-spec pair(map(), list()) -> {term(), term()}.
pair(Ctx, Options) ->
    pair(Ctx, Options, Options).

-spec pair(map(), list(), list()) -> {term(), term()}.
pair(#{mod := M} = Ctx, ClientOptions, ServerOptions) ->
    {ok, Listen} = M:listen(0, [{ip, loopback()} | server(Ctx)] ++ ServerOptions),
    Parent = self(),
    Acceptor = async(fun() ->
                             {ok, S} = M:transport_accept(Listen, ?WAIT),
                             ok = accepted(server_handshake(M, S, ?WAIT)),
                             ok = M:controlling_process(S, Parent),
                             S
                     end),
    {ok, Client} = M:connect("localhost", port(M, Listen), ClientOptions, ?WAIT),
    Server = await(Acceptor),
    ok = M:close(Listen),
    {Client, Server}.

%% The server's side of the handshake in either API: ssl 3.9's ssl_accept, OTP's handshake.
-spec server_handshake(module(), term(), timeout()) -> term().
server_handshake(M, S, Timeout) ->
    {module, M} = code:ensure_loaded(M),
    case erlang:function_exported(M, handshake, 2) of
        true -> M:handshake(S, Timeout);
        false -> M:ssl_accept(S, Timeout)
    end.

%% ssl_accept's success in either API: ssl 3.9 says `ok', OTP's handshake `{ok, S}'.
accepted(ok) -> ok;
accepted({ok, _}) -> ok;
accepted(Other) -> Other.

%% Size bytes of {ssl, S, Data} messages, joined in the socket's mode; `{short, Got}' when the
%% messages stop coming. TLS records may split data differently on each side: only the bytes
%% and their form are compared.
-spec active_bytes(term(), non_neg_integer(), [term()]) -> term().
active_bytes(_S, 0, Acc) ->
    join(lists:reverse(Acc));
active_bytes(S, Left, Acc) ->
    case next(S) of
        {ssl, S, Data} -> active_bytes(S, Left - iolist_size(Data), [Data | Acc]);
        Other -> {short, join(lists:reverse(Acc)), Other}
    end.

%% Size bytes from recv(S, 0) calls, joined.
-spec passive_bytes({module(), term()}, non_neg_integer(), [term()]) -> term().
passive_bytes(_MS, 0, Acc) ->
    join(lists:reverse(Acc));
passive_bytes({M, S}, Left, Acc) ->
    case M:recv(S, 0, ?WAIT) of
        {ok, Data} -> passive_bytes({M, S}, Left - iolist_size(Data), [Data | Acc]);
        Other -> {short, join(lists:reverse(Acc)), Other}
    end.

join([]) -> nothing;
join([First | _] = Pieces) when is_binary(First) ->
    case lists:all(fun is_binary/1, Pieces) of
        true -> iolist_to_binary(Pieces);
        false -> {mixed, Pieces}
    end;
join(Pieces) ->
    case lists:all(fun is_list/1, Pieces) of
        true -> lists:append(Pieces);
        false -> {mixed, Pieces}
    end.

%% Data cut into Size-byte pieces.
-spec chunks(binary(), pos_integer()) -> [binary()].
chunks(<<>>, _Size) -> [];
chunks(Data, Size) when byte_size(Data) =< Size -> [Data];
chunks(Data, Size) ->
    <<Chunk:Size/binary, Rest/binary>> = Data,
    [Chunk | chunks(Rest, Size)].

%%% The fixed peer: OTP's ssl in its own (modern) API, passive and binary unless told otherwise,
%%% made as the Common Test suites make theirs (erlang_stub/test/ts_ssl_peers.erl)

-spec peer_listen(map(), list()) -> {term(), inet:port_number()}.
peer_listen(_Ctx, Options) ->
    ts_ssl_peers:native_listen(Options).

%% Accepts one connection in another process; await/1 gives {ok, Socket} (owned by the
%% caller) or the handshake's error.
-spec peer_accept(term()) -> reference().
peer_accept(Listen) ->
    Parent = self(),
    async(fun() -> ts_ssl_peers:accept_for(Parent, Listen, ?WAIT) end).

-spec peer_connect(map(), inet:port_number()) -> reference().
peer_connect(Ctx, Port) ->
    peer_connect(Ctx, Port, []).

%% Connects in another process (the other end's accept may come later); await/1 gives
%% {ok, Socket} owned by the caller, or the error.
-spec peer_connect(map(), inet:port_number(), list()) -> reference().
peer_connect(_Ctx, Port, Options) ->
    Parent = self(),
    async(fun() -> ts_ssl_peers:connect_for(Parent, Port, Options, ?WAIT) end).

%% M on Role's side (`client' or `server'), the fixed peer on the other: {S, Peer}.
-spec peer_pair(map(), client | server, {list(), list()}) -> {term(), term()}.
peer_pair(#{mod := M} = Ctx, client, {Options, PeerOptions}) ->
    {Listen, Port} = peer_listen(Ctx, server(Ctx) ++ PeerOptions),
    Accepting = peer_accept(Listen),
    {ok, S} = M:connect("localhost", Port, Options, ?WAIT),
    {ok, Peer} = await(Accepting),
    ok = ssl:close(Listen),
    {S, Peer};
peer_pair(#{mod := M} = Ctx, server, {Options, PeerOptions}) ->
    {ok, Listen} = M:listen(0, [{ip, loopback()} | server(Ctx)] ++ Options),
    Connecting = peer_connect(Ctx, port(M, Listen), PeerOptions),
    {ok, S} = M:transport_accept(Listen, ?WAIT),
    ok = accepted(server_handshake(M, S, ?WAIT)),
    {ok, Peer} = await(Connecting),
    ok = M:close(Listen),
    {S, Peer}.

-spec peer_send(term(), iodata()) -> ok | {error, term()}.
peer_send(Peer, Data) ->
    ssl:send(Peer, Data).

-spec peer_recv(term()) -> term().
peer_recv(Peer) ->
    ssl:recv(Peer, 0, ?WAIT).


%%% Plain TCP: a server that never speaks TLS, a client that never does

-spec tcp_listen() -> {port(), inet:port_number()}.
tcp_listen() ->
    tcp_listen([]).

-spec tcp_listen(list()) -> {port(), inet:port_number()}.
tcp_listen(Options) ->
    {ok, Listen} = gen_tcp:listen(0, [binary, {active, false}, {ip, loopback()} | Options]),
    {ok, Port} = inet:port(Listen),
    {Listen, Port}.

-spec tcp_connect(inet:port_number()) -> port().
tcp_connect(Port) ->
    {ok, S} = gen_tcp:connect(loopback(), Port, [binary, {active, false}]),
    S.

-spec tcp_accept(port()) -> port().
tcp_accept(Listen) ->
    {ok, S} = gen_tcp:accept(Listen, ?WAIT),
    S.

%% A gen_tcp connection, {Client, Server}, passive and binary: the reference beside M's sockets.
-spec tcp_pair() -> {port(), port()}.
tcp_pair() ->
    {Listen, Port} = tcp_listen(),
    Client = tcp_connect(Port),
    Server = tcp_accept(Listen),
    ok = gen_tcp:close(Listen),
    {Client, Server}.

%% A TCP relay on loopback to Port, for one connection: {RelayPort, Relay}. After `Relay !
%% tamper', the next bytes from Port's side have their last byte changed: the TLS record they
%% end fails its integrity check where it arrives.
-spec tampering_relay(inet:port_number()) -> {inet:port_number(), pid()}.
tampering_relay(Port) ->
    {Listen, RelayPort} = tcp_listen(),
    Relay = spawn_link(fun() ->
                               Client = tcp_accept(Listen),
                               Server = tcp_connect(Port),
                               ok = inet:setopts(Client, [{active, true}]),
                               ok = inet:setopts(Server, [{active, true}]),
                               relay(Client, Server, false)
                       end),
    {RelayPort, Relay}.

%% Either end may be gone by the time bytes for it come (the side that found the changed record
%% closes): what cannot be passed on is dropped.
relay(Client, Server, Tamper) ->
    receive
        {tcp, Client, Data} ->
            _ = gen_tcp:send(Server, Data),
            relay(Client, Server, Tamper);
        {tcp, Server, Data} when Tamper ->
            Size = byte_size(Data) - 1,
            <<Head:Size/binary, Last>> = Data,
            _ = gen_tcp:send(Client, <<Head/binary, (Last bxor 16#ff)>>),
            relay(Client, Server, false);
        {tcp, Server, Data} ->
            _ = gen_tcp:send(Client, Data),
            relay(Client, Server, Tamper);
        tamper ->
            relay(Client, Server, true);
        {tcp_closed, _} ->
            relay_closed(Client, Server);
        {tcp_error, _, _} ->
            relay_closed(Client, Server)
    end.

relay_closed(Client, Server) ->
    gen_tcp:close(Client),
    gen_tcp:close(Server).
