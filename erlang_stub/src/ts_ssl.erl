%% @doc The ssl 3.9 API (the ssl(3) manual page of ssl 3.9, OTP R12B), served by a ts-ssl bridge
%% node over node:tls.
%%
%% Each function is one `gen_server:call' to the bridge's `ts_ssl_bridge' process, with the
%% request of README.md "How ts_ssl talks to the bridge"; the reply is the manual's return value.
%% Work done here rather than in the bridge is work that must happen where the caller runs:
%% reading certificate files, flattening iodata, decoding certificates with `public_key',
%% passing on the old owner's queued messages, and the texts of `format_error/1'.
-module(ts_ssl).

-include_lib("public_key/include/public_key.hrl").

%% The version of the ssl API served: the manual's.
-define(SSL_VSN, "3.9").

-export([start/0, stop/0]).
-export([accept/1, accept/2, ciphers/0, close/1, connect/3, connect/4, connection_info/1,
         controlling_process/2, format_error/1, getopts/2, listen/2, peercert/1, peercert/2,
         peername/1, pid/1, recv/2, recv/3, seed/1, send/2, setopts/2, ssl_accept/1,
         ssl_accept/2, sockname/1, transport_accept/1, transport_accept/2, version/0]).

-export_type([sslsocket/0, options/0, option/0, socketoption/0, ssloption/0, packettype/0,
              activetype/0, reason/0, bytes/0, code/0, depth/0, address/0, ipaddress/0,
              hostname/0, ipstring/0, iptuple/0, protocol/0, path/0]).

%% COMMON DATA TYPES of the manual. Where the bridge accepts newer OTP forms as a superset
%% (README.md, "Where ts_ssl departs from ssl 3.9": IPv6 tuples, `{active, N}', `verify_peer', ...) the types say so, so that callers using
%% them stay Dialyzer-clean.
-opaque sslsocket() :: {sslsocket, integer(), pid()}.
-type options() :: [option()].
-type option() :: socketoption() | ssloption() | newer_option().
-type socketoption() :: {mode, list} | {mode, binary} | binary | list
                      | {packet, packettype()} | {header, integer()} | {nodelay, boolean()}
                      | {active, activetype()} | {backlog, integer()} | {ip, ipaddress()}
                      | {port, integer()}.
-type ssloption() :: {verify, code()} | {depth, depth()} | {certfile, path()}
                   | {keyfile, path()} | {password, string()} | {cacertfile, path()}
                   | {ciphers, string()}.
-type newer_option() :: {verify, verify_none | verify_peer} | {fail_if_no_peer_cert, boolean()}
                      | {server_name_indication, hostname() | disable}
                      | {versions, [protocol()]} | {packet_size, non_neg_integer()}
                      | {line_delimiter, char()} | {atom(), term()}.
%% packettype() and activetype() are inet(3)'s.
-type packettype() :: raw | 0 | 1 | 2 | 4 | asn1 | cdr | sunrm | fcgi | tpkt | line
                    | http | httph | http_bin | httph_bin.
-type activetype() :: boolean() | once | -32768..32767.
%% The manual's `{atom(), string()}'; `{badcall, Call}' and its kin carry any term.
-type reason() :: atom() | {atom(), term()}.
-type bytes() :: [byte()].
-type code() :: 0 | 1 | 2.
-type depth() :: byte().
-type address() :: hostname() | ipstring() | ipaddress().
-type ipaddress() :: ipstring() | iptuple().
-type hostname() :: string() | atom().
-type ipstring() :: string().
-type iptuple() :: {byte(), byte(), byte(), byte()} | inet:ip6_address().
-type protocol() :: sslv2 | sslv3 | tlsv1 | 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3'.
-type path() :: file:filename_all().
-type optiontag() :: mode | packet | header | nodelay | active | backlog | ip | port | atom().
-type peercert_option() :: pkix | ssl | subject.

%% What the bridge is asked to do: the README's request table.
-type request() :: term().

%%% Application

-spec start() -> ok | {error, term()}.
start() ->
    case application:ensure_all_started(ts_ssl) of
        {ok, _Started} -> ok;
        {error, _} = Error -> Error
    end.

-spec stop() -> ok | {error, term()}.
stop() ->
    application:stop(ts_ssl).

%%% The manual's EXPORTS

-spec accept(ListenSocket :: sslsocket()) -> {ok, Socket :: sslsocket()} | {error, reason()}.
accept(ListenSocket) ->
    accept(ListenSocket, infinity).

-spec accept(ListenSocket :: sslsocket(), Timeout :: timeout()) ->
          {ok, Socket :: sslsocket()} | {error, reason()}.
accept(ListenSocket, Timeout) ->
    on_socket(ListenSocket, {accept, ListenSocket, Timeout}).

-spec ciphers() -> {ok, string()} | {error, enotstarted}.
ciphers() ->
    library(ciphers).

-spec close(Socket :: sslsocket()) -> ok | {error, reason()}.
close(Socket) ->
    on_socket(Socket, {close, Socket}).

-spec connect(Address :: address(), Port :: integer(), Options :: options()) ->
          {ok, Socket :: sslsocket()} | {error, reason()}.
connect(Address, Port, Options) ->
    connect(Address, Port, Options, infinity).

-spec connect(Address :: address(), Port :: integer(), Options :: options(),
              Timeout :: timeout()) ->
          {ok, Socket :: sslsocket()} | {error, reason()}.
connect(Address, Port, Options, Timeout) ->
    library({connect, Address, Port, with_files(Options), Timeout}).

-spec connection_info(Socket :: sslsocket()) ->
          {ok, {Protocol :: protocol(), Cipher :: string()}} | {error, reason()}.
connection_info(Socket) ->
    on_socket(Socket, {connection_info, Socket}).

%% Messages the bridge sent to the old owner before the change are passed on by the old owner,
%% here. So that none of the bridge's later messages to the new owner can overtake them, active
%% delivery is held while the owner changes, as gen_tcp holds it (inet:tcp_controlling_process).
-spec controlling_process(Socket :: sslsocket(), NewOwner :: pid()) -> ok | {error, reason()}.
controlling_process(Socket, NewOwner) when NewOwner =:= self() ->
    on_socket(Socket, {controlling_process, Socket, NewOwner});
controlling_process(Socket, NewOwner) ->
    case getopts(Socket, [active]) of
        {ok, [{active, false}]} ->
            hand_over(Socket, NewOwner);
        {ok, [{active, Active}]} ->
            case setopts(Socket, [{active, false}]) of
                ok ->
                    Result = hand_over(Socket, NewOwner),
                    _ = setopts(Socket, [{active, Active}]),
                    Result;
                {error, _} = Error ->
                    Error
            end;
        {error, _} = Error ->
            Error
    end.

-spec format_error(ErrorCode :: term()) -> string().
format_error({error, Reason}) ->
    format_error(Reason);
format_error(Reason) ->
    case reason_text(Reason) of
        undefined -> other_text(Reason);
        Text -> Text
    end.

-spec getopts(Socket :: sslsocket(), OptionTags :: [optiontag()]) ->
          {ok, Options :: options()} | {error, reason()}.
getopts(Socket, OptionTags) ->
    on_socket(Socket, {getopts, Socket, OptionTags}).

-spec listen(Port :: integer(), Options :: options()) ->
          {ok, ListenSocket :: sslsocket()} | {error, reason()}.
listen(Port, Options) ->
    library({listen, Port, with_files(Options)}).

-spec peercert(Socket :: sslsocket()) -> {ok, Cert :: binary()} | {error, reason()}.
peercert(Socket) ->
    peercert(Socket, []).

%% The bridge sends the DER bytes; the forms the options ask for are made here, where the
%% caller's `public_key' records are.
-spec peercert(Socket :: sslsocket(), Opts :: [peercert_option()]) ->
          {ok, Cert :: term()} | {ok, Subject :: term()} | {error, reason()}.
peercert(Socket, Opts) ->
    case peercert_form(Opts) of
        {ok, Form} ->
            case on_socket(Socket, {peercert, Socket}) of
                {ok, Der} when is_binary(Der) -> decode_cert(Form, Der);
                Other -> Other
            end;
        error ->
            {error, eoptions}
    end.

-spec peername(Socket :: sslsocket()) ->
          {ok, {Address :: ipaddress(), Port :: integer()}} | {error, reason()}.
peername(Socket) ->
    on_socket(Socket, {peername, Socket}).

-spec pid(Socket :: sslsocket()) -> pid().
pid({sslsocket, _Id, Pid}) ->
    Pid.

-spec recv(Socket :: sslsocket(), Length :: non_neg_integer()) ->
          {ok, Data :: bytes() | binary() | term()} | {error, reason()}.
recv(Socket, Length) ->
    recv(Socket, Length, infinity).

-spec recv(Socket :: sslsocket(), Length :: non_neg_integer(), Timeout :: timeout()) ->
          {ok, Data :: bytes() | binary() | term()} | {error, reason()}.
recv(Socket, Length, Timeout) ->
    on_socket(Socket, {recv, Socket, Length, Timeout}).

-spec seed(Data :: iodata()) -> ok | {error, reason()}.
seed(Data) ->
    try iolist_to_binary(Data) of
        Bytes -> library({seed, Bytes})
    catch
        error:badarg -> {error, edata}
    end.

%% Data that is not iodata gets gen_tcp's answer on this OTP: `{error, einval}'.
-spec send(Socket :: sslsocket(), Data :: iodata()) -> ok | {error, reason()}.
send(Socket, Data) ->
    try iolist_to_binary(Data) of
        Bytes -> on_socket(Socket, {send, Socket, Bytes})
    catch
        error:badarg -> {error, einval}
    end.

-spec setopts(Socket :: sslsocket(), Options :: [socketoption() | newer_option()]) ->
          ok | {error, reason()}.
setopts(Socket, Options) ->
    on_socket(Socket, {setopts, Socket, Options}).

-spec ssl_accept(Socket :: sslsocket()) -> ok | {error, reason()}.
ssl_accept(Socket) ->
    ssl_accept(Socket, infinity).

-spec ssl_accept(Socket :: sslsocket(), Timeout :: timeout()) -> ok | {error, reason()}.
ssl_accept(Socket, Timeout) ->
    on_socket(Socket, {ssl_accept, Socket, Timeout}).

-spec sockname(Socket :: sslsocket()) ->
          {ok, {Address :: ipaddress(), Port :: integer()}} | {error, reason()}.
sockname(Socket) ->
    on_socket(Socket, {sockname, Socket}).

-spec transport_accept(Socket :: sslsocket()) ->
          {ok, NewSocket :: sslsocket()} | {error, reason()}.
transport_accept(ListenSocket) ->
    transport_accept(ListenSocket, infinity).

-spec transport_accept(Socket :: sslsocket(), Timeout :: timeout()) ->
          {ok, NewSocket :: sslsocket()} | {error, reason()}.
transport_accept(ListenSocket, Timeout) ->
    on_socket(ListenSocket, {transport_accept, ListenSocket, Timeout}).

%% "If the SSL application has not been started, CompVsn and LibVsn are empty strings."
-spec version() -> {ok, {SSLVsn :: string(), CompVsn :: string(), LibVsn :: string()}}.
version() ->
    case library(version) of
        {error, enotstarted} -> {ok, {?SSL_VSN, "", ""}};
        Version -> Version
    end.

%%% Talking to the bridge

%% Calls that make a socket or ask the library go to the configured bridge; one that cannot be
%% reached means the SSL "application" is not there for us.
-spec library(request()) -> term().
library(Request) ->
    call(bridge(), Request, enotstarted).

%% Calls on a socket go to the bridge that made it (there may be several); when that bridge is
%% gone, the socket is closed for the operation in question. Anything that is not a socket is the
%% configured bridge's to refuse.
-spec on_socket(term(), request()) -> term().
on_socket({sslsocket, _Id, Pid}, Request) when is_pid(Pid) ->
    call(node(Pid), Request, closed);
on_socket(_NotASocket, Request) ->
    call(bridge(), Request, closed).

%% The bridge enforces the API's timeouts itself, hence `infinity'. A bridge node that is down,
%% unknown, or without a `ts_ssl_bridge' process makes gen_server:call exit; the caller gets a
%% reason instead.
-spec call(node(), request(), reason()) -> term().
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

%% The messages a socket sends its owner, passed on in the order they arrived.
-spec hand_over(sslsocket(), pid()) -> ok | {error, reason()}.
hand_over(Socket, NewOwner) ->
    case on_socket(Socket, {controlling_process, Socket, NewOwner}) of
        ok -> pass_on(Socket, NewOwner);
        Refused -> Refused
    end.

-spec pass_on(sslsocket(), pid()) -> ok.
pass_on(Socket, NewOwner) ->
    receive
        {ssl, Socket, _Data} = Message -> NewOwner ! Message, pass_on(Socket, NewOwner);
        {ssl_closed, Socket} = Message -> NewOwner ! Message, pass_on(Socket, NewOwner);
        {ssl_error, Socket, _Reason} = Message -> NewOwner ! Message, pass_on(Socket, NewOwner);
        {ssl_passive, Socket} = Message -> NewOwner ! Message, pass_on(Socket, NewOwner)
    after 0 ->
        ok
    end.

%%% peercert/2: the manual's option rules

-type cert_form() :: der | {plain | otp, certificate | subject}.

%% `pkix' and `ssl' exclude each other; `subject' needs one of them.
-spec peercert_form(term()) -> {ok, cert_form()} | error.
peercert_form(Opts) ->
    try lists:usort(Opts) of
        [] -> {ok, der};
        [pkix] -> {ok, {plain, certificate}};
        [ssl] -> {ok, {otp, certificate}};
        [pkix, subject] -> {ok, {plain, subject}};
        [ssl, subject] -> {ok, {otp, subject}};
        _ -> error
    catch
        error:_NotAList -> error
    end.

-spec decode_cert(cert_form(), binary()) -> {ok, term()} | {error, epeercert}.
decode_cert(der, Der) ->
    {ok, Der};
decode_cert({Type, Part}, Der) ->
    try public_key:pkix_decode_cert(Der, Type) of
        Cert -> {ok, cert_part(Part, Cert)}
    catch
        error:_ -> {error, epeercert}
    end.

-spec cert_part(certificate | subject, #'Certificate'{} | #'OTPCertificate'{}) -> term().
cert_part(certificate, Cert) ->
    Cert;
cert_part(subject, #'Certificate'{tbsCertificate = #'TBSCertificate'{subject = Subject}}) ->
    Subject;
cert_part(subject, #'OTPCertificate'{tbsCertificate = #'OTPTBSCertificate'{subject = Subject}}) ->
    Subject.

%%% format_error/1: the texts of ssl 3.9's ERRORS section, in one table

-spec reason_text(term()) -> string() | undefined.
reason_text(closed) -> "Connection closed for the operation in question.";
reason_text(ebadsocket) -> "Connection not found (internal error).";
reason_text(ebadstate) -> "Connection not in connect state (internal error).";
reason_text(ebrokertype) -> "Wrong broker type (internal error).";
reason_text(ecacertfile) -> "Own CA certificate file is invalid.";
reason_text(ecertfile) -> "Own certificate file is invalid.";
reason_text(echaintoolong) -> "The chain of certificates provided by peer is too long.";
reason_text(ecipher) -> "Own list of specified ciphers is invalid.";
reason_text(ekeyfile) -> "Own private key file is invalid.";
reason_text(ekeymismatch) -> "Own private key does not match own certificate.";
reason_text(enoissuercert) -> "Cannot find certificate of issuer of certificate provided by peer.";
reason_text(enoservercert) -> "Attempt to do accept without having set own certificate.";
reason_text(enotlistener) -> "Attempt to accept on a non-listening socket.";
reason_text(enoproxysocket) ->
    "No proxy socket found (internal error or max number of file descriptors exceeded).";
reason_text(enooptions) -> "List of options is empty.";
reason_text(enotstarted) -> "The SSL application has not been started.";
reason_text(eoptions) -> "Invalid list of options.";
reason_text(epeercert) -> "Certificate provided by peer is in error.";
reason_text(epeercertexpired) -> "Certificate provided by peer has expired.";
reason_text(epeercertinvalid) -> "Certificate provided by peer is invalid.";
reason_text(eselfsignedcert) -> "Certificate provided by peer is self signed.";
reason_text(esslaccept) -> "Server SSL handshake procedure between client and server failed.";
reason_text(esslconnect) -> "Client SSL handshake procedure between client and server failed.";
reason_text(esslerrssl) -> "SSL protocol failure. Typically because of a fatal alert from peer.";
reason_text(ewantconnect) ->
    "Protocol wants to connect, which is not supported in this version of the SSL application.";
reason_text(ex509lookup) ->
    "Protocol wants X.509 lookup, which is not supported in this version of the SSL application.";
reason_text({badcall, _}) -> bad_request_text();
reason_text({badcast, _}) -> bad_request_text();
reason_text({badinfo, _}) -> bad_request_text();
reason_text(_) -> undefined.

-spec bad_request_text() -> string().
bad_request_text() ->
    "Call not recognized for current mode (active or passive) and state of socket.".

%% POSIX reasons read as inet(3) words them; anything else gets the text 3.9 meant to give.
-spec other_text(term()) -> string().
other_text(Reason) when is_atom(Reason) ->
    case inet:format_error(Reason) of
        "unknown POSIX error" -> no_format_text(Reason);
        Text -> Text
    end;
other_text(Reason) ->
    no_format_text(Reason).

-spec no_format_text(term()) -> string().
no_format_text(Reason) ->
    lists:flatten(io_lib:format("No format string for error: \"~p\" available.", [Reason])).
