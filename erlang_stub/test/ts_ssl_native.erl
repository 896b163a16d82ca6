%% The ssl 3.9 API over the native ssl of this OTP, so that the suite can run one scenario with
%% `ts_ssl' and with native `ssl' and see both behave alike. Only what the shared scenarios use;
%% the renames are those README.md lists under "Differences from modern OTP ssl".
-module(ts_ssl_native).

-export([listen/2, accept/1, accept/2, transport_accept/1, transport_accept/2, ssl_accept/1,
         ssl_accept/2, connect/3, connect/4, send/2, recv/2, recv/3, setopts/2, getopts/2,
         close/1, controlling_process/2, peername/1, sockname/1, connection_info/1,
         peercert/1]).

listen(Port, Options) ->
    ssl:listen(Port, [{reuseaddr, true} | options(Options)]).

accept(ListenSocket) ->
    accept(ListenSocket, infinity).

accept(ListenSocket, Timeout) ->
    case ssl:transport_accept(ListenSocket, Timeout) of
        {ok, Socket} ->
            case ssl_accept(Socket, Timeout) of
                ok -> {ok, Socket};
                Error -> Error
            end;
        Error ->
            Error
    end.

transport_accept(ListenSocket) ->
    ssl:transport_accept(ListenSocket).

transport_accept(ListenSocket, Timeout) ->
    ssl:transport_accept(ListenSocket, Timeout).

ssl_accept(Socket) ->
    ssl_accept(Socket, infinity).

ssl_accept(Socket, Timeout) ->
    case ssl:handshake(Socket, Timeout) of
        {ok, _SameSocket} -> ok;
        Error -> Error
    end.

connect(Address, Port, Options) ->
    connect(Address, Port, Options, infinity).

connect(Address, Port, Options, Timeout) ->
    ssl:connect(Address, Port, options(Options), Timeout).

send(Socket, Data) -> ssl:send(Socket, Data).
recv(Socket, Length) -> ssl:recv(Socket, Length).
recv(Socket, Length, Timeout) -> ssl:recv(Socket, Length, Timeout).
setopts(Socket, Options) -> ssl:setopts(Socket, Options).
getopts(Socket, Tags) -> ssl:getopts(Socket, Tags).
close(Socket) -> ssl:close(Socket).
controlling_process(Socket, Pid) -> ssl:controlling_process(Socket, Pid).
peername(Socket) -> ssl:peername(Socket).
sockname(Socket) -> ssl:sockname(Socket).
peercert(Socket) -> ssl:peercert(Socket).

connection_info(Socket) ->
    case ssl:connection_information(Socket, [protocol, selected_cipher_suite]) of
        {ok, Info} ->
            Suite = proplists:get_value(selected_cipher_suite, Info),
            {ok, {proplists:get_value(protocol, Info), ssl:suite_to_openssl_str(Suite)}};
        Error ->
            Error
    end.

%% `{verify, 0 | 1 | 2}' in OTP 25's words; no verification unless asked, as in 3.9.
options(Options) ->
    Verify = case lists:keyfind(verify, 1, Options) of
                 {verify, 1} -> [{verify, verify_peer}];
                 {verify, 2} -> [{verify, verify_peer}, {fail_if_no_peer_cert, true}];
                 _ -> [{verify, verify_none}]
             end,
    Verify ++ [O || O <- Options, not is_tuple(O) orelse element(1, O) =/= verify].
