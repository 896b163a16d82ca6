%% @doc The ssl 3.9 API (the ssl(3) manual page of ssl 3.9, OTP R12B), served by a ts-ssl bridge
%% node over node:tls.
%%
%% Each function is one `gen_server:call' to the bridge's `ts_ssl_bridge' process, with the
%% request of README.md "How ts_ssl talks to the bridge"; the reply is the manual's return value.
%% Work done here rather than in the bridge is work that must happen where the caller runs:
%% reading certificate files, flattening iodata, decoding certificates with `public_key',
%% passing on the old owner's queued messages, and the texts of `format_error/1'.
-module(ts_ssl).

-behaviour(ts_ssl_api).

-include_lib("public_key/include/public_key.hrl").

%% The version of the ssl API served: the manual's.
-define(SSL_VSN, "3.9").

-export([start/0, stop/0]).
-export([accept/1, accept/2, ciphers/0, close/1, connect/3, connect/4, connection_info/1,
         controlling_process/2, format_error/1, getopts/2, listen/2, peercert/1, peercert/2,
         peername/1, pid/1, port/1, recv/2, recv/3, seed/1, send/2, setopts/2, ssl_accept/1,
         ssl_accept/2, sockname/1, transport_accept/1, transport_accept/2, version/0]).

-export_type([sslsocket/0, options/0, option/0, socketoption/0, ssloption/0, packettype/0,
              activetype/0, reason/0, bytes/0, code/0, depth/0, address/0, ipaddress/0,
              hostname/0, ipstring/0, iptuple/0, protocol/0, path/0]).

%% COMMON DATA TYPES of the manual. Where newer OTP forms are accepted as a superset
%% (IPv6 tuples, `{active, N}', `verify_peer', ...) the types say so, so that callers using
%% them stay Dialyzer-clean.
-opaque sslsocket() :: {sslsocket, integer(), pid()}.
-type options() :: [option()].
-type option() :: socketoption() | ssloption() | newer_option().
-type socketoption() :: {mode, list} | {mode, binary} | binary | list
                      | {packet, packettype()} | {header, integer()} | {nodelay, boolean()}
                      | {active, activetype()} | {backlog, integer()} | {ip, ipaddress()}
                      | {port, integer()} | {reuseaddr, boolean()} | {keepalive, boolean()}.
-type ssloption() :: {verify, code()} | {depth, depth()} | {certfile, path()}
                   | {keyfile, path()} | {password, string()} | {cacertfile, path()}
                   | {ciphers, string()} | {cachetimeout, non_neg_integer()}.
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
    ts_ssl_call:on_socket(ListenSocket, {accept, ListenSocket, Timeout}).

-spec ciphers() -> {ok, string()} | {error, enotstarted}.
ciphers() ->
    ts_ssl_call:library(ciphers).

-spec close(Socket :: sslsocket()) -> ok | {error, reason()}.
close(Socket) ->
    ts_ssl_call:on_socket(Socket, {close, Socket}).

-spec connect(Address :: address(), Port :: integer(), Options :: options()) ->
          {ok, Socket :: sslsocket()} | {error, reason()}.
connect(Address, Port, Options) ->
    connect(Address, Port, Options, infinity).

-spec connect(Address :: address(), Port :: integer(), Options :: options(),
              Timeout :: timeout()) ->
          {ok, Socket :: sslsocket()} | {error, reason()}.
connect(Address, Port, Options, Timeout) ->
    ts_ssl_call:library({connect, Address, Port, ts_ssl_call:with_files(Options), Timeout}).

-spec connection_info(Socket :: sslsocket()) ->
          {ok, {Protocol :: protocol(), Cipher :: string()}} | {error, reason()}.
connection_info(Socket) ->
    ts_ssl_call:on_socket(Socket, {connection_info, Socket}).

%% Messages the bridge sent to the old owner before the change are passed on by the old owner,
%% here. So that none of the bridge's later messages to the new owner can overtake them, active
%% delivery is held while the owner changes, as gen_tcp holds it (inet:tcp_controlling_process).
-spec controlling_process(Socket :: sslsocket(), NewOwner :: pid()) -> ok | {error, reason()}.
controlling_process(Socket, NewOwner) when NewOwner =:= self() ->
    ts_ssl_call:on_socket(Socket, {controlling_process, Socket, NewOwner});
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
    ts_ssl_call:on_socket(Socket, {getopts, Socket, OptionTags}).

-spec listen(Port :: integer(), Options :: options()) ->
          {ok, ListenSocket :: sslsocket()} | {error, reason()}.
listen(Port, Options) ->
    ts_ssl_call:library({listen, Port, ts_ssl_call:with_files(Options)}).

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
            case ts_ssl_call:on_socket(Socket, {peercert, Socket}) of
                {ok, Der} when is_binary(Der) -> decode_cert(Form, Der);
                Other -> Other
            end;
        error ->
            {error, eoptions}
    end.

-spec peername(Socket :: sslsocket()) ->
          {ok, {Address :: ipaddress(), Port :: integer()}} | {error, reason()}.
peername(Socket) ->
    ts_ssl_call:on_socket(Socket, {peername, Socket}).

-spec pid(Socket :: sslsocket()) -> pid().
pid({sslsocket, _Id, Pid}) ->
    Pid.

%% The manual's listen/2 sends the user here to learn the port chosen for port 0; sockname/1
%% knows it.
-spec port(Socket :: sslsocket()) -> {ok, Port :: inet:port_number()} | {error, reason()}.
port(Socket) ->
    case sockname(Socket) of
        {ok, {_Address, Port}} -> {ok, Port};
        {error, _} = Error -> Error
    end.

-spec recv(Socket :: sslsocket(), Length :: non_neg_integer()) ->
          {ok, Data :: bytes() | binary() | term()} | {error, reason()}.
recv(Socket, Length) ->
    recv(Socket, Length, infinity).

-spec recv(Socket :: sslsocket(), Length :: non_neg_integer(), Timeout :: timeout()) ->
          {ok, Data :: bytes() | binary() | term()} | {error, reason()}.
recv(Socket, Length, Timeout) ->
    ts_ssl_call:on_socket(Socket, {recv, Socket, Length, Timeout}).

-spec seed(Data :: iodata()) -> ok | {error, reason()}.
seed(Data) ->
    try iolist_to_binary(Data) of
        Bytes -> ts_ssl_call:library({seed, Bytes})
    catch
        error:badarg -> {error, edata}
    end.

%% Data that is not iodata gets gen_tcp's answer on this OTP: `{error, einval}'. `ok' means
%% the bytes are on their way to the bridge, in order (ts_ssl_sender).
-spec send(Socket :: sslsocket(), Data :: iodata()) -> ok | {error, reason()}.
send(Socket, Data) ->
    try iolist_to_binary(Data) of
        Bytes -> ts_ssl_sender:send(Socket, {send, Socket, Bytes})
    catch
        error:badarg -> {error, einval}
    end.

-spec setopts(Socket :: sslsocket(), Options :: [socketoption() | newer_option()]) ->
          ok | {error, reason()}.
setopts(Socket, Options) ->
    ts_ssl_call:on_socket(Socket, {setopts, Socket, Options}).

-spec ssl_accept(Socket :: sslsocket()) -> ok | {error, reason()}.
ssl_accept(Socket) ->
    ssl_accept(Socket, infinity).

-spec ssl_accept(Socket :: sslsocket(), Timeout :: timeout()) -> ok | {error, reason()}.
ssl_accept(Socket, Timeout) ->
    ts_ssl_call:on_socket(Socket, {ssl_accept, Socket, Timeout}).

-spec sockname(Socket :: sslsocket()) ->
          {ok, {Address :: ipaddress(), Port :: integer()}} | {error, reason()}.
sockname(Socket) ->
    ts_ssl_call:on_socket(Socket, {sockname, Socket}).

-spec transport_accept(Socket :: sslsocket()) ->
          {ok, NewSocket :: sslsocket()} | {error, reason()}.
transport_accept(ListenSocket) ->
    transport_accept(ListenSocket, infinity).

-spec transport_accept(Socket :: sslsocket(), Timeout :: timeout()) ->
          {ok, NewSocket :: sslsocket()} | {error, reason()}.
transport_accept(ListenSocket, Timeout) ->
    ts_ssl_call:on_socket(ListenSocket, {transport_accept, ListenSocket, Timeout}).

%% "If the SSL application has not been started, CompVsn and LibVsn are empty strings."
-spec version() -> {ok, {SSLVsn :: string(), CompVsn :: string(), LibVsn :: string()}}.
version() ->
    case ts_ssl_call:library(version) of
        {error, enotstarted} -> {ok, {?SSL_VSN, "", ""}};
        Version -> Version
    end.

%% The messages a socket sends its owner, passed on in the order they arrived.
-spec hand_over(sslsocket(), pid()) -> ok | {error, reason()}.
hand_over(Socket, NewOwner) ->
    case ts_ssl_call:on_socket(Socket, {controlling_process, Socket, NewOwner}) of
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

%%% format_error/1: the texts of ssl 3.9 (the manual's ERRORS section)

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
