%% @doc OTP 25's `ssl' API, served by a ts-ssl bridge node over node:tls: a drop-in for `ssl' in
%% code written against it (`ssl:handshake/1' returning `{ok, S}', `connection_information/1,2',
%% `{error, {tls_alert, {Alert, Text}}}', ...). `ts_ssl' serves the ssl 3.9 API from the same
%% bridge and the same sockets.
%%
%% Each call is one request of README.md's table wrapped as `{otp, Request}', which the bridge
%% answers in OTP's words. What is exact where the caller runs is done here: DER certificates and
%% keys become the PEM contents the bridge takes for the file options, host names are checked by
%% `public_key' as OTP's `ssl' checks them, cipher suites are given in OTP's map form, and
%% `format_error/1' is OTP's.
-module(ts_ssl_otp).

-export([start/0, stop/0]).
-export([cipher_suites/2, close/1, connect/2, connect/3, connect/4, connection_information/1,
         connection_information/2, controlling_process/2, format_error/1, getopts/2, getstat/1,
         getstat/2, handshake/1, handshake/2, handshake/3, listen/2, negotiated_protocol/1,
         peercert/1, peername/1, recv/2, recv/3, send/2, setopts/2, shutdown/2, sockname/1,
         transport_accept/1, transport_accept/2, versions/0]).

-export_type([sslsocket/0, tls_option/0, reason/0]).

-opaque sslsocket() :: {sslsocket, integer(), pid()}.
-type tls_option() :: gen_tcp:option() | {atom(), term()}.
-type reason() :: closed | timeout | {tls_alert, {atom(), string()}} | {options, term()}
                | inet:posix() | atom() | {atom(), term()}.
-type host() :: inet:hostname() | inet:ip_address().
-type protocol_version() :: tlsv1 | 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3'.
-type connection_info_item() :: protocol | selected_cipher_suite | sni_hostname | atom().

%% OTP's default `depth'.
-define(DEPTH, 10).
%% Options OTP's `ssl' takes that change nothing here: the bridge logs for itself, and its
%% connections are IPv4 unless an address says otherwise.
-define(IGNORED, [log_level, log_alert, hibernate_after]).
-define(IGNORED_ATOMS, [inet]).
%% gen_tcp's options that are not {Key, Value} pairs, which OTP's `ssl' passes on.
-define(BARE_OPTIONS, [binary, list, inet, inet6]).

%%% Application

-spec start() -> ok | {error, term()}.
start() ->
    ts_ssl:start().

-spec stop() -> ok | {error, term()}.
stop() ->
    ts_ssl:stop().

%%% Connections

%% Upgrading a connected gen_tcp socket (STARTTLS): the connection stays in this node, carried
%% to and from the bridge's TLS by a relay process (ts_ssl_relay) that takes the socket over.
-spec connect(gen_tcp:socket(), [tls_option()]) -> {ok, sslsocket()} | {error, reason()}.
connect(TCPSocket, Options) when is_port(TCPSocket) ->
    connect(TCPSocket, Options, infinity).

-spec connect(host() | gen_tcp:socket(), inet:port_number() | [tls_option()],
              [tls_option()] | timeout()) -> {ok, sslsocket()} | {error, reason()}.
connect(TCPSocket, Options, Timeout) when is_port(TCPSocket), is_list(Options) ->
    upgrade(client, TCPSocket, Options, Timeout);
connect(Host, Port, Options) ->
    connect(Host, Port, Options, infinity).

%% As OTP's: an option that is not a {Key, Value} pair is refused before anything else, with
%% that refusal as connect's return value.
-spec connect(host(), inet:port_number(), [tls_option()], timeout()) ->
          {ok, sslsocket()} | {error, reason()} | {option_not_a_key_value_tuple, term()}.
connect(Host, Port, Options, Timeout) when is_list(Options) ->
    try tls_options(client, Options) of
        {ok, Translated, HostnameCheck} ->
            case request({connect, Host, Port, Translated, Timeout}) of
                {ok, Socket} -> check_hostname(Socket, Host, Options, HostnameCheck);
                Error -> Error
            end;
        {error, _} = Error ->
            Error
    catch
        throw:{option_not_a_key_value_tuple, _} = Refusal -> Refusal
    end.

%% connect/2,3 (client) and handshake/2,3 (server) on a gen_tcp socket. As OTP's: the TLS
%% socket takes the gen_tcp socket's mode, packet, active, header and packet_size unless Options
%% say otherwise, and its host name check is against the peer's address. A refused upgrade
%% closes the TCP connection, as OTP's does; options refused before it began leave the socket to
%% the caller.
upgrade(Role, TCPSocket, Options, Timeout) ->
    case addresses(TCPSocket) of
        {ok, Emulated, {PeerIp, _} = Peer, Local} ->
            try tls_options(Role, Emulated ++ Options) of
                {ok, Translated, HostnameCheck} ->
                    case ts_ssl_relay:start(TCPSocket) of
                        {ok, Relay} ->
                            Tag = case Role of
                                      client -> upgrade;
                                      server -> accept_upgrade
                                  end,
                            case request({Tag, Relay, Peer, Local, Translated, Timeout}) of
                                {ok, Socket} ->
                                    check_hostname(Socket, PeerIp, Options, HostnameCheck);
                                Error ->
                                    ts_ssl_relay:abandon(Relay),
                                    Error
                            end;
                        Error ->
                            Error
                    end;
                {error, _} = Error ->
                    Error
            catch
                throw:{option_not_a_key_value_tuple, _} = Refusal -> Refusal
            end;
        {error, _} = Error ->
            Error
    end.

addresses(TCPSocket) ->
    maybe_all([inet:getopts(TCPSocket, [mode, packet, active, header, packet_size]),
               inet:peername(TCPSocket), inet:sockname(TCPSocket)]).

maybe_all(Results) ->
    case [Error || {error, _} = Error <- Results] of
        [Error | _] -> Error;
        [] -> list_to_tuple([ok | [Value || {ok, Value} <- Results]])
    end.

%% As OTP's: an option that is not a {Key, Value} pair is thrown; one that gen_tcp refuses (an
%% option nobody knows, a bad value of gen_tcp's) makes gen_tcp:listen exit with badarg.
-spec listen(inet:port_number(), [tls_option()]) -> {ok, sslsocket()} | {error, reason()}.
listen(Port, Options) when is_list(Options) ->
    case tls_options(server, Options) of
        {ok, Translated, _} ->
            case request({listen, Port, Translated}) of
                {error, {options, {socket_options, GenTcpOptions}}} when is_list(GenTcpOptions) ->
                    exit(badarg);
                Reply ->
                    Reply
            end;
        {error, _} = Error ->
            Error
    end.

-spec transport_accept(sslsocket()) -> {ok, sslsocket()} | {error, reason()}.
transport_accept(ListenSocket) ->
    transport_accept(ListenSocket, infinity).

-spec transport_accept(sslsocket(), timeout()) -> {ok, sslsocket()} | {error, reason()}.
transport_accept(ListenSocket, Timeout) ->
    on_socket(ListenSocket, {transport_accept, ListenSocket, Timeout}).

-spec handshake(sslsocket()) -> {ok, sslsocket()} | {error, reason()}.
handshake(Socket) ->
    handshake(Socket, infinity).

-spec handshake(sslsocket() | gen_tcp:socket(), timeout() | [tls_option()]) ->
          {ok, sslsocket()} | {error, reason()}.
handshake(TCPSocket, Timeout) when is_port(TCPSocket), not is_list(Timeout) ->
    handshake(TCPSocket, [], Timeout);
handshake(Socket, Options) when is_list(Options) ->
    handshake(Socket, Options, infinity);
handshake(Socket, Timeout) ->
    case on_socket(Socket, {ssl_accept, Socket, Timeout}) of
        ok -> {ok, Socket};
        Error -> Error
    end.

%% Options for this connection, over those it has from its listen socket (OTP's defaults, and
%% the CA certificates `verify_peer' needs, may come from there).
%% On a connected gen_tcp socket, the server's side of connect/2,3.
-spec handshake(sslsocket() | gen_tcp:socket(), [tls_option()], timeout()) ->
          {ok, sslsocket()} | {error, reason()}.
handshake(TCPSocket, Options, Timeout) when is_port(TCPSocket), is_list(Options) ->
    upgrade(server, TCPSocket, Options, Timeout);
handshake(Socket, [], Timeout) ->
    handshake(Socket, Timeout);
handshake(Socket, Options, Timeout) when is_list(Options) ->
    case translated(Options) of
        {ok, Translated} ->
            case on_socket(Socket, {handshake, Socket, Translated, Timeout}) of
                ok -> {ok, Socket};
                Error -> Error
            end;
        {error, _} = Error ->
            Error
    end.

-spec close(sslsocket()) -> ok | {error, reason()}.
close(Socket) ->
    on_socket(Socket, {close, Socket}).

-spec shutdown(sslsocket(), read | write | read_write) -> ok | {error, reason()}.
shutdown(Socket, How) ->
    on_socket(Socket, {shutdown, Socket, How}).

%%% Data

%% As OTP's: what is not iodata raises badarg. `ok' as ts_ssl:send/2's.
-spec send(sslsocket(), iodata()) -> ok | {error, reason()}.
send(Socket, Data) ->
    ts_ssl_sender:send(Socket, {otp, {send, Socket, iolist_to_binary(Data)}}).

-spec recv(sslsocket(), non_neg_integer()) -> {ok, binary() | list()} | {error, reason()}.
recv(Socket, Length) ->
    recv(Socket, Length, infinity).

-spec recv(sslsocket(), non_neg_integer(), timeout()) ->
          {ok, binary() | list() | term()} | {error, reason()}.
recv(Socket, Length, Timeout) ->
    on_socket(Socket, {recv, Socket, Length, Timeout}).

%% OTP's: the socket's later messages go to the new owner; those already sent stay where they are.
-spec controlling_process(sslsocket(), pid()) -> ok | {error, reason()}.
controlling_process(Socket, NewOwner) ->
    on_socket(Socket, {controlling_process, Socket, NewOwner}).

%%% Options and facts

-spec setopts(sslsocket(), [gen_tcp:option()]) -> ok | {error, reason()}.
setopts(Socket, Options) ->
    on_socket(Socket, {setopts, Socket, Options}).

%% OTP 25 answers the tags in the reverse of the order asked.
-spec getopts(sslsocket(), [atom()]) -> {ok, [gen_tcp:option()]} | {error, reason()}.
getopts(Socket, Tags) ->
    case on_socket(Socket, {getopts, Socket, Tags}) of
        {ok, Options} -> {ok, lists:reverse(Options)};
        Error -> Error
    end.

-spec peername(sslsocket()) -> {ok, {inet:ip_address(), inet:port_number()}} | {error, reason()}.
peername(Socket) ->
    on_socket(Socket, {peername, Socket}).

-spec sockname(sslsocket()) -> {ok, {inet:ip_address(), inet:port_number()}} | {error, reason()}.
sockname(Socket) ->
    on_socket(Socket, {sockname, Socket}).

-spec peercert(sslsocket()) -> {ok, public_key:der_encoded()} | {error, reason()}.
peercert(Socket) ->
    on_socket(Socket, {peercert, Socket}).

-spec negotiated_protocol(sslsocket()) -> {ok, binary()} | {error, reason()}.
negotiated_protocol(Socket) ->
    on_socket(Socket, {negotiated_protocol, Socket}).

-spec getstat(sslsocket()) -> {ok, [{atom(), non_neg_integer()}]} | {error, reason()}.
getstat(Socket) ->
    getstat(Socket, [recv_cnt, recv_max, recv_avg, recv_oct, recv_dvi,
                     send_cnt, send_max, send_avg, send_oct, send_pend]).

-spec getstat(sslsocket(), [atom()]) -> {ok, [{atom(), non_neg_integer()}]} | {error, reason()}.
getstat(Socket, Items) ->
    on_socket(Socket, {getstat, Socket, Items}).

-spec connection_information(sslsocket()) -> {ok, [{atom(), term()}]} | {error, reason()}.
connection_information(Socket) ->
    case on_socket(Socket, {connection_information, Socket}) of
        {ok, Facts} -> {ok, lists:append([information(Fact) || Fact <- Facts])};
        Error -> Error
    end.

%% The items asked that the connection has, in the order OTP gives them.
-spec connection_information(sslsocket(), [connection_info_item()]) ->
          {ok, [{atom(), term()}]} | {error, reason()}.
connection_information(Socket, Items) ->
    case connection_information(Socket) of
        {ok, Info} -> {ok, [Item || {Key, _} = Item <- Info, lists:member(Key, Items)]};
        Error -> Error
    end.

%%% The library

%% What the bridge's TLS can do: TLS 1.2 and 1.3 by default, 1.0 and 1.1 when asked for.
-spec versions() -> [{atom(), term()}].
versions() ->
    {ok, Vsn} = application:get_key(ts_ssl, vsn),
    Supported = ['tlsv1.3', 'tlsv1.2'],
    Available = Supported ++ ['tlsv1.1', tlsv1],
    [{ssl_app, Vsn}, {supported, Supported}, {supported_dtls, []}, {available, Available},
     {available_dtls, []}, {implemented, Available}, {implemented_dtls, []}].

%% The suites OTP's `ssl' lists for Description and Version that node:tls can negotiate, in
%% OTP's order and form.
-spec cipher_suites(default | all | exclusive | anonymous | exclusive_anonymous,
                    protocol_version()) -> [ssl:erl_cipher_suite()].
cipher_suites(Description, Version) ->
    Known = ssl:cipher_suites(Description, Version),
    case ts_ssl_call:library(ciphers) of
        {ok, Names} ->
            Bridge = [Suite || Name <- string:lexemes(Names, ":"),
                               {ok, Suite} <- [suite(Name)]],
            [Suite || Suite <- Known, lists:member(Suite, Bridge)];
        {error, _} ->
            []
    end.

%% OTP's texts for OTP's reasons.
-spec format_error(term()) -> string().
format_error(Reason) ->
    ssl:format_error(Reason).

%%% Internals

-spec request(ts_ssl_call:otp_request()) -> term().
request(Request) ->
    ts_ssl_call:library({otp, Request}).

-spec on_socket(term(), ts_ssl_call:otp_request()) -> term().
on_socket(Socket, Request) ->
    ts_ssl_call:on_socket(Socket, {otp, Request}).

-spec suite(string()) -> {ok, ssl:erl_cipher_suite()} | error.
suite(Name) ->
    try ssl:str_to_suite(Name) of
        #{} = Suite -> {ok, Suite};
        _ -> error
    catch
        _:_ -> error
    end.

information({protocol, Protocol}) ->
    [{protocol, Protocol}];
information({cipher_suite, Name}) ->
    case suite(Name) of
        {ok, Suite} -> [{selected_cipher_suite, Suite}];
        error -> []
    end;
information({sni_hostname, Name}) ->
    [{sni_hostname, Name}].

%%% Options: OTP's, as the bridge takes them

%% {ok, Options for the bridge, how to check the server's host name (client, verify_peer) or
%% `none'}. OTP refuses `verify_peer' without CA certificates before anything else.
-spec tls_options(client | server, list()) ->
          {ok, term(), none | {check, list()}} | {error, reason()}.
tls_options(_Role, []) ->
    {ok, [], none};
tls_options(Role, Options) ->
    case translated(Options) of
        {ok, Translated} ->
            Verify = proplists:get_value(verify, Translated, verify_none),
            HasCa = lists:keymember(cacertfile, 1, Translated),
            if
                Verify =:= verify_peer, not HasCa ->
                    {error, {options, {cacertfile, []}}};
                true ->
                    Depth = case lists:keymember(depth, 1, Translated) of
                                true -> [];
                                false -> [{depth, ?DEPTH}]
                            end,
                    Check = case {Role, Verify} of
                                {client, verify_peer} ->
                                    {check, proplists:get_value(customize_hostname_check,
                                                                Options, [])};
                                _ ->
                                    none
                            end,
                    {ok, [O || O <- Translated, not is_tagged(customize_hostname_check, O)]
                         ++ Depth, Check}
            end;
        {error, _} = Error ->
            Error
    end.

%% The options as the bridge takes them, OTP's defaults not added.
-spec translated(list()) -> {ok, list()} | {error, reason()}.
translated(Options) ->
    lists:foreach(fun key_value/1, Options),
    try
        {ok, lists:flatmap(fun option/1, Options)}
    catch
        throw:{bad_option, Option} -> {error, {options, Option}}
    end.

key_value({Key, _}) when is_atom(Key) -> ok;
key_value({raw, _, _, _}) -> ok;
key_value(Option) ->
    case lists:member(Option, ?BARE_OPTIONS) of
        true -> ok;
        false -> throw({option_not_a_key_value_tuple, Option})
    end.

is_tagged(Tag, Option) ->
    is_tuple(Option) andalso tuple_size(Option) >= 1 andalso element(1, Option) =:= Tag.

%% DER certificates and keys as PEM contents under the file options' tags; file options read
%% here, as ts_ssl reads them; suite maps as OpenSSL's names.
option({cacerts, Ders} = Option) when is_list(Ders) ->
    [{cacertfile, "cacerts", pem([{'Certificate', Der} || Der <- ders(Option, Ders)])}];
option({cert, Der} = Option) when is_binary(Der) ->
    option({cert, [Der]}, Option);
option({cert, Ders} = Option) when is_list(Ders) ->
    option({cert, Ders}, Option);
option({key, {Type, Der}} = Option) when is_atom(Type), is_binary(Der) ->
    case lists:member(Type, ['RSAPrivateKey', 'DSAPrivateKey', 'ECPrivateKey', 'PrivateKeyInfo']) of
        true -> [{keyfile, "key", pem([{Type, Der}])}];
        false -> throw({bad_option, Option})
    end;
option({ciphers, [Suite | _] = Suites} = Option) when is_map(Suite) ->
    Names = [try ssl:suite_to_openssl_str(S) catch _:_ -> throw({bad_option, Option}) end
             || S <- Suites],
    [{ciphers, lists:flatten(lists:join(":", Names))}];
option({ciphers, [Name | _] = Names}) when is_list(Name) ->
    [{ciphers, lists:flatten(lists:join(":", Names))}];
%% ssl 3.9's verify codes (0, 1, 2), which the bridge also takes, are not OTP's.
option({verify, Verify} = Option) when Verify =/= verify_none, Verify =/= verify_peer ->
    throw({bad_option, Option});
%% node:tls cannot ask a verify_fun during the handshake (README.md): refused, never ignored.
option({verify_fun, _} = Option) ->
    throw({bad_option, Option});
option({Tag, _} = Option) when Tag =:= certfile; Tag =:= keyfile; Tag =:= cacertfile ->
    ts_ssl_call:with_files([Option]);
option({Tag, _} = Option) ->
    case lists:member(Tag, ?IGNORED) of
        true -> [];
        false -> [Option]
    end;
option(Option) ->
    case lists:member(Option, ?IGNORED_ATOMS) of
        true -> [];
        false -> [Option]
    end.

option({cert, Ders}, Option) ->
    [{certfile, "cert", pem([{'Certificate', Der} || Der <- ders(Option, Ders)])}].

ders(Option, Ders) ->
    case lists:all(fun is_binary/1, Ders) of
        true -> Ders;
        false -> throw({bad_option, Option})
    end.

pem(Entries) ->
    public_key:pem_encode([{Type, Der, not_encrypted} || {Type, Der} <- Entries]).

%%% Host name verification, as OTP's `ssl' does it by default on `verify_peer'

%% The server's certificate must be for the name the client asked for: the SNI name when one is
%% given, else the host connected to. OTP refuses in the handshake with a handshake_failure
%% alert; here the connection is closed after it (see README.md).
check_hostname(Socket, _Host, _Options, none) ->
    {ok, Socket};
check_hostname(Socket, Host, Options, {check, Customize}) ->
    Reference = case proplists:get_value(server_name_indication, Options) of
                    Name when is_list(Name) -> [{dns_id, Name}];
                    _ -> reference_id(Host)
                end,
    Verified = case peercert(Socket) of
                   {ok, Der} ->
                       Cert = public_key:pkix_decode_cert(Der, otp),
                       public_key:pkix_verify_hostname(Cert, Reference, Customize);
                   {error, _} ->
                       false
               end,
    case Verified of
        true ->
            {ok, Socket};
        false ->
            _ = close(Socket),
            {error, {tls_alert, {handshake_failure,
                                 "TLS client: In state certify generated CLIENT ALERT: "
                                 "Fatal - Handshake Failure\n {bad_cert,hostname_check_failed}"}}}
    end.

%% As OTP's: an address tuple is checked against the certificate's IP addresses, a name (an
%% address written as a string too) against its DNS names.
reference_id(Host) when is_tuple(Host) ->
    [{ip, Host}];
reference_id(Host) when is_atom(Host) ->
    [{dns_id, atom_to_list(Host)}];
reference_id(Host) ->
    [{dns_id, Host}].
