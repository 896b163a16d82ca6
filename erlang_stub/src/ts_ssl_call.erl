%% @doc How the modules of the `ts_ssl' application reach a ts-ssl bridge node: `ts_ssl' (the
%% ssl 3.9 API) and `ts_ssl_otp' (OTP 25's `ssl') send their requests through here, so both find
%% the same bridge, read certificate files the same way, and meet an unreachable bridge alike.
-module(ts_ssl_call).

-export([library/1, on_socket/2, with_files/1]).

-export_type([request/0, otp_request/0, send_request/0]).

%% What the bridge is asked to do: README.md's request table, tag by tag, so that Dialyzer holds
%% every caller to it. Where a caller passes on what its own caller gave without looking (an
%% option list, a tag list, a socket term), the element is what that caller's spec allows; the
%% bridge judges the rest.
-type request() :: request_39() | {otp, otp_request()}
                 | {pipelined_send, send_request() | {otp, send_request()}}.
-type request_39() ::
        {connect, Address :: ts_ssl:address() | inet:hostname() | inet:ip_address(),
         Port :: integer(), Options :: sent_options(), Timeout :: timeout()}
      | {listen, Port :: integer(), Options :: sent_options()}
      | {transport_accept, ListenSocket :: socket(), Timeout :: timeout()}
      | {ssl_accept, Socket :: socket(), Timeout :: timeout()}
      | {accept, ListenSocket :: socket(), Timeout :: timeout()}
      | {close, Socket :: socket()}
      | send_request()
      | {recv, Socket :: socket(), Length :: non_neg_integer(), Timeout :: timeout()}
      | {controlling_process, Socket :: socket(), NewOwner :: pid()}
      | {getopts, Socket :: socket(), Tags :: [atom()]}
      | {setopts, Socket :: socket(), Options :: [term()]}
      | {peername, Socket :: socket()}
      | {sockname, Socket :: socket()}
      | {peercert, Socket :: socket()}
      | {connection_info, Socket :: socket()}
      | ciphers
      | version
      | {seed, Data :: binary()}.
%% What ts_ssl_otp wraps as `{otp, Request}': the same requests, and seven of its own.
-type otp_request() :: request_39() | otp_only_request().
-type otp_only_request() ::
        {shutdown, Socket :: socket(), How :: read | write | read_write}
      | {getstat, Socket :: socket(), Items :: [atom()]}
      | {negotiated_protocol, Socket :: socket()}
      | {connection_information, Socket :: socket()}
      | {handshake, Socket :: socket(), Options :: sent_options(), Timeout :: timeout()}
      | {upgrade | accept_upgrade, Relay :: pid(),
         Peer :: {inet:ip_address(), inet:port_number()},
         Local :: {inet:ip_address(), inet:port_number()}, Options :: sent_options(),
         Timeout :: timeout()}.
-type send_request() :: {send, Socket :: socket(), Data :: binary()}.
-type socket() :: ts_ssl:sslsocket() | ts_ssl_otp:sslsocket().
%% Options as given, with each file option read where the caller runs (with_files/1):
%% `{certfile | keyfile | cacertfile, Path, Contents | {error, Reason}}'.
-type sent_options() :: term().

%%% Talking to the bridge

%% Calls that make a socket or ask the library go to the configured bridge; one that cannot be
%% reached means the SSL "application" is not there for us.
-spec library(request()) -> term().
library(Request) ->
    call(bridge(), Request, enotstarted).

%% Calls on a socket go to the bridge that made it (there may be several); when that bridge is
%% gone, the socket is closed for the operation in question. Anything that is not a socket is the
%% configured bridge's to refuse. The caller's sends on the socket go first (ts_ssl_sender).
-spec on_socket(term(), request()) -> term().
on_socket({sslsocket, _Id, Pid} = Socket, Request) when is_pid(Pid) ->
    ok = ts_ssl_sender:fence(Socket, Request),
    socket_call(node(Pid), Request);
on_socket(_NotASocket, Request) ->
    call(bridge(), Request, closed).

%% A socket's bridge serves `ts_ssl_bridge' for as long as the connection to it lasts, and its
%% sockets die with that connection, so a call on one needs to know only that the connection lasts
%% until the reply. gen_server:call would learn it from a monitor of `ts_ssl_bridge' across the
%% connection, which puts two more messages on it (MONITOR_P and DEMONITOR_P) for the bridge to
%% read. The call monitors instead the connection's local controller (a port, or a process for TLS
%% distribution), which ends when the connection does: nothing goes on the wire for it. The
%% monitor's reference, an alias until the monitor ends, tags the one request; as in gen.erl, a
%% reply after the DOWN finds the alias gone, so a reply never lands late nor twice. (monitor_node/2
%% would not do: a `{nodedown, Node}' carries no reference, so the call could not tell its own from
%% the caller's, nor know whether its own had fired by the time it turned it off.)
%%
%% A request to a node without `ts_ssl_bridge' would be dropped there, unanswered: the first call
%% over each connection is a gen_server:call, which makes the connection if there is none and
%% checks the name; its answer marks the connection's controller as a bridge's.
-spec socket_call(node(), request()) -> term().
socket_call(Bridge, Request) ->
    case lists:keyfind(Bridge, 1, erlang:system_info(dist_ctrl)) of
        {Bridge, Controller} ->
            case persistent_term:get({?MODULE, Bridge}, undefined) of
                Controller -> watched_call(Bridge, Controller, Request);
                _ -> first_call(Bridge, Controller, Request)
            end;
        false ->
            call(Bridge, Request, closed)
    end.

-spec first_call(node(), port() | pid(), request()) -> term().
first_call(Bridge, Controller, Request) ->
    try gen_server:call({ts_ssl_bridge, Bridge}, Request, infinity) of
        Reply ->
            persistent_term:put({?MODULE, Bridge}, Controller),
            Reply
    catch
        exit:_ -> {error, closed}
    end.

%% `[alias | Mref]' is the reply tag gen.erl makes, improper list and all, which the bridge
%% recognises as an alias to reply to.
-dialyzer({no_improper_lists, watched_call/3}).
-spec watched_call(node(), port() | pid(), request()) -> term().
watched_call(Bridge, Controller, Request) ->
    Mref = erlang:monitor(controller_type(Controller), Controller, [{alias, demonitor}]),
    Tag = [alias | Mref],
    %% A connection gone since the lookup has a dead controller: the monitor fires at once.
    _ = erlang:send({ts_ssl_bridge, Bridge}, {'$gen_call', {self(), Tag}, Request}, [noconnect]),
    receive
        {Tag, Reply} ->
            erlang:demonitor(Mref, [flush]),
            Reply;
        {'DOWN', Mref, _, _, _} ->
            {error, closed}
    end.

-spec controller_type(port() | pid()) -> port | process.
controller_type(Controller) when is_port(Controller) -> port;
controller_type(Controller) when is_pid(Controller) -> process.

%% The bridge enforces the API's timeouts itself, hence `infinity'. A bridge node that is down,
%% unknown, or without a `ts_ssl_bridge' process makes gen_server:call exit; the caller gets a
%% reason instead.
-spec call(node(), request(), atom()) -> term().
call(Bridge, Request, Unreachable) ->
    try
        gen_server:call({ts_ssl_bridge, Bridge}, Request, infinity)
    catch
        exit:_ -> {error, Unreachable}
    end.

%% The bridge node: application env `{ts_ssl, [{bridge, Node}]}', else OS env TS_SSL_BRIDGE,
%% else `ts_ssl_bridge' on this node's host. Distribution is started first if this node has none
%% (a shell without -sname), as a hidden node so that it does not join the cluster's mesh.
-spec bridge() -> node().
bridge() ->
    case configured_bridge() of
        undefined ->
            distribute(shortnames),
            list_to_atom("ts_ssl_bridge@" ++ host(node()));
        Bridge ->
            distribute(name_domain(Bridge)),
            Bridge
    end.

-spec configured_bridge() -> node() | undefined.
configured_bridge() ->
    %% The env of an application that is not loaded reads as unset, even when given with
    %% `-ts_ssl bridge Node' on the command line; get_key/2 tells without a call.
    case application:get_key(ts_ssl, vsn) of
        undefined -> _ = application:load(ts_ssl), ok;
        {ok, _} -> ok
    end,
    case application:get_env(ts_ssl, bridge) of
        {ok, Bridge} when is_atom(Bridge) -> Bridge;
        {ok, Bridge} when is_list(Bridge) -> list_to_atom(Bridge);
        _ ->
            case os:getenv("TS_SSL_BRIDGE") of
                false -> undefined;
                "" -> undefined;
                Bridge -> list_to_atom(Bridge)
            end
    end.

-spec distribute(shortnames | longnames) -> ok.
distribute(NameDomain) ->
    case node() of
        nonode@nohost ->
            %% The OS pid keeps the name unique on this host; a failure (no EPMD, a race with
            %% another caller) leaves the calls to find the bridge unreachable or distribution up.
            Name = list_to_atom(lists:concat(["ts_ssl_", os:getpid(), "_",
                                              erlang:unique_integer([positive])])),
            _ = net_kernel:start(Name, #{name_domain => NameDomain, hidden => true}),
            ok;
        _ ->
            ok
    end.

%% A bridge named with a fully qualified host is reachable only from a long-names node.
-spec name_domain(node()) -> shortnames | longnames.
name_domain(Bridge) ->
    case lists:member($., host(Bridge)) of
        true -> longnames;
        false -> shortnames
    end.

-spec host(node()) -> string().
host(Node) ->
    case string:split(atom_to_list(Node), "@") of
        [_Name, Host] -> Host;
        _ -> "nohost"
    end.

%% File options name files where the caller runs; the bridge gets their contents, or the reason
%% they could not be read. Anything else, a malformed list included, is the bridge's to judge.
-spec with_files(term()) -> term().
with_files([{Tag, Path} | Options])
  when Tag =:= certfile; Tag =:= keyfile; Tag =:= cacertfile ->
    [{Tag, Path, read_file(Path)} | with_files(Options)];
with_files([Option | Options]) ->
    [Option | with_files(Options)];
with_files(Other) ->
    Other.

-spec read_file(term()) -> binary() | {error, file:posix() | badarg | terminated | system_limit}.
read_file(Path) ->
    case file:read_file(Path) of
        {ok, Contents} -> Contents;
        {error, _} = Error -> Error
    end.

