%% An HTTPS server written for OTP's `ssl', in the style of the ssl User's Guide: a listen
%% socket, a loop of transport_accept, each connection handed to a process of its own that does
%% the TLS handshake, reads one request and answers it. The tests run it as it is, and with
%% `ssl:' replaced by `ts_ssl_otp:' (nothing else changed) to run it over the bridge.
-module(https_server).

-export([start/2, stop/1]).

%% Listens on Port (0: any) with TLS Options; {ok, Server, ListenPort}.
start(Port, Options) ->
    ok = ssl:start(),
    Parent = self(),
    Server = spawn(fun() ->
                           {ok, Listen} = ssl:listen(Port, [binary, {active, false},
                                                            {reuseaddr, true} | Options]),
                           {ok, {_, ListenPort}} = ssl:sockname(Listen),
                           Parent ! {self(), listening, ListenPort},
                           accept_loop(Listen)
                   end),
    receive
        {Server, listening, ListenPort} -> {ok, Server, ListenPort}
    after 10000 ->
        {error, timeout}
    end.

stop(Server) ->
    exit(Server, kill),
    ok.

accept_loop(Listen) ->
    case ssl:transport_accept(Listen) of
        {ok, TransportSocket} ->
            Handler = spawn(fun() -> receive {serve, S} -> serve(S) end end),
            ok = ssl:controlling_process(TransportSocket, Handler),
            Handler ! {serve, TransportSocket},
            accept_loop(Listen);
        {error, closed} ->
            ok
    end.

serve(TransportSocket) ->
    case ssl:handshake(TransportSocket, 10000) of
        {ok, Socket} ->
            case read_head(Socket, <<>>) of
                {ok, Head} ->
                    [RequestLine | _] = binary:split(Head, <<"\r\n">>),
                    [_Method, Path | _] = binary:split(RequestLine, <<" ">>, [global]),
                    {ok, [{protocol, Protocol}]} =
                        ssl:connection_information(Socket, [protocol]),
                    Body = iolist_to_binary(["hello ", Path, " over ",
                                             atom_to_list(Protocol), "\n"]),
                    ok = ssl:send(Socket, ["HTTP/1.1 200 OK\r\n",
                                           "Content-Type: text/plain\r\n",
                                           "Content-Length: ", integer_to_list(byte_size(Body)),
                                           "\r\nConnection: close\r\n\r\n", Body]);
                {error, _} ->
                    ok
            end,
            ssl:close(Socket);
        {error, _} ->
            ok
    end.

%% The request up to its empty line.
read_head(Socket, Acc) ->
    case binary:match(Acc, <<"\r\n\r\n">>) of
        {At, _} ->
            {ok, binary:part(Acc, 0, At)};
        nomatch ->
            case ssl:recv(Socket, 0, 10000) of
                {ok, Data} -> read_head(Socket, <<Acc/binary, Data/binary>>);
                {error, _} = Error -> Error
            end
    end.
