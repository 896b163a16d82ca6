%% The ssl 3.9 API (the behaviour ts_ssl_api) over this OTP's own `ssl', so that one scenario runs
%% with native ssl and with `ts_ssl' and the two can be compared: the Common Test suites
%% (erlang_stub/test), the conformance runner (test/conformance) and the certificate matrix
%% (test/ssl) all use it.
%%
%% What is translated is what the manual names or shapes otherwise; everything else, reasons
%% above all, is OTP's as it answered, and where that differs from ssl 3.9 a rule of
%% conf_dialect says why:
%% - ssl_accept/1,2 is handshake/1,2, `ok' for its `{ok, Socket}'; accept/1,2 (gone from OTP)
%%   is transport_accept + handshake;
%% - connection_info/1 is connection_information/2 asking for protocol and cipher suite, given
%%   as 3.9 gave them: `{ok, {Protocol, CipherName}}', the cipher in OpenSSL's name;
%% - 3.9's ssl options: `{verify, 0 | 1 | 2}' as `verify_none' / `verify_peer' (+
%%   `fail_if_no_peer_cert'), 3.9's defaults `{verify, 0}' (connect) and `{depth, 1}' when
%%   verifying;
%% - functions OTP no longer has (pid/1, seed/1, ciphers/0, version/0, peercert/2) are called
%%   all the same, and raise `undef' as OTP's ssl does.
-module(ts_ssl_native).

-behaviour(ts_ssl_api).

-export([accept/1, accept/2, ciphers/0, close/1, connect/3, connect/4, connection_info/1,
         controlling_process/2, format_error/1, getopts/2, listen/2, peercert/1, peercert/2,
         peername/1, pid/1, recv/2, recv/3, seed/1, send/2, setopts/2, ssl_accept/1,
         ssl_accept/2, sockname/1, transport_accept/1, transport_accept/2, version/0]).

accept(ListenSocket) ->
    accept(ListenSocket, infinity).

accept(ListenSocket, Timeout) ->
    case ssl:transport_accept(ListenSocket, Timeout) of
        {ok, Socket} -> ssl:handshake(Socket, Timeout);
        Error -> Error
    end.

close(Socket) -> ssl:close(Socket).

connect(Address, Port, Options) -> ssl:connect(Address, Port, client_options(Options)).

connect(Address, Port, Options, Timeout) ->
    ssl:connect(Address, Port, client_options(Options), Timeout).

connection_info(Socket) ->
    case ssl:connection_information(Socket, [protocol, selected_cipher_suite]) of
        {ok, [{protocol, Protocol}, {selected_cipher_suite, Suite}]} ->
            {ok, {Protocol, ssl:suite_to_openssl_str(Suite)}};
        Other ->
            Other
    end.

controlling_process(Socket, NewOwner) -> ssl:controlling_process(Socket, NewOwner).
format_error(Reason) -> ssl:format_error(Reason).
getopts(Socket, Tags) -> ssl:getopts(Socket, Tags).
listen(Port, Options) -> ssl:listen(Port, ssl_options(Options)).
peercert(Socket) -> ssl:peercert(Socket).
peername(Socket) -> ssl:peername(Socket).
recv(Socket, Length) -> ssl:recv(Socket, Length).
recv(Socket, Length, Timeout) -> ssl:recv(Socket, Length, Timeout).
send(Socket, Data) -> ssl:send(Socket, Data).
setopts(Socket, Options) -> ssl:setopts(Socket, Options).
ssl_accept(Socket) -> handshaken(ssl:handshake(Socket)).
ssl_accept(Socket, Timeout) -> handshaken(ssl:handshake(Socket, Timeout)).
sockname(Socket) -> ssl:sockname(Socket).
transport_accept(ListenSocket) -> ssl:transport_accept(ListenSocket).
transport_accept(ListenSocket, Timeout) -> ssl:transport_accept(ListenSocket, Timeout).

%% Gone from OTP's ssl: called anyway (through apply/3, so the compiler does not refuse them).
ciphers() -> apply(ssl, ciphers, []).
peercert(Socket, Options) -> apply(ssl, peercert, [Socket, Options]).
pid(Socket) -> apply(ssl, pid, [Socket]).
seed(Data) -> apply(ssl, seed, [Data]).
version() -> apply(ssl, version, []).

%% handshake's socket is the one given, which 3.9's `ok' leaves with the caller.
handshaken({ok, _SameSocket}) -> ok;
handshaken(Other) -> Other.

%% A client verifies nothing unless asked (3.9's `{verify, 0}'; OTP 26 would verify).
client_options(Options) when is_list(Options) ->
    case lists:keymember(verify, 1, Options) of
        true -> ssl_options(Options);
        false -> [{verify, verify_none} | ssl_options(Options)]
    end;
client_options(Options) ->
    Options.

%% 3.9's verify codes in OTP's words, with 3.9's depth unless one is given. A list that is not
%% proper, or a code 3.9 did not know, is passed on for OTP to judge.
ssl_options(Options) when is_list(Options) ->
    try lists:flatmap(fun verify_option/1, Options) of
        Translated ->
            Verifying = lists:keymember(verify, 1, Translated)
                andalso not lists:member({verify, verify_none}, Translated),
            case Verifying andalso not lists:keymember(depth, 1, Translated) of
                true -> Translated ++ [{depth, 1}];
                false -> Translated
            end
    catch
        error:_ -> Options
    end;
ssl_options(Options) ->
    Options.

verify_option({verify, 0}) -> [{verify, verify_none}];
verify_option({verify, 1}) -> [{verify, verify_peer}];
verify_option({verify, 2}) -> [{verify, verify_peer}, {fail_if_no_peer_cert, true}];
verify_option(Option) -> [Option].
