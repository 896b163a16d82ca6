%% An HTTPS client written for OTP's `ssl', in the style of the ssl User's Guide: connect, send
%% a request, receive the response, shut the connection down. The tests run it as it is, and
%% with `ssl:' replaced by `ts_ssl_otp:' (nothing else changed) to run it over the bridge.
-module(https_client).

-export([get/4]).

%% GET Path from Host:Port with TLS Options: {ok, Status, HeaderCount, Body} or
%% {error, Reason}.
get(Host, Port, Path, Options) ->
    ok = ssl:start(),
    case ssl:connect(Host, Port, [binary, {active, false} | Options], 10000) of
        {ok, Socket} ->
            ok = ssl:send(Socket, ["GET ", Path, " HTTP/1.1\r\nHost: ", Host,
                                   "\r\nConnection: close\r\n\r\n"]),
            Response = recv_response(Socket, <<>>),
            _ = ssl:shutdown(Socket, write),
            ok = ssl:close(Socket),
            Response;
        {error, _} = Error ->
            Error
    end.

%% The response: its head, then as many body bytes as Content-Length says, or all until the
%% server closes when it says nothing.
recv_response(Socket, Acc) ->
    case binary:split(Acc, <<"\r\n\r\n">>) of
        [Head, Body] ->
            [StatusLine | Headers] = binary:split(Head, <<"\r\n">>, [global]),
            [_Version, Status | _] = binary:split(StatusLine, <<" ">>, [global]),
            case recv_body(Socket, Body, content_length(Headers)) of
                {ok, All} -> {ok, binary_to_integer(Status), length(Headers), All};
                {error, _} = Error -> Error
            end;
        [_] ->
            case ssl:recv(Socket, 0, 10000) of
                {ok, Data} -> recv_response(Socket, <<Acc/binary, Data/binary>>);
                {error, _} = Error -> Error
            end
    end.

content_length(Headers) ->
    Lengths = [binary_to_integer(string:trim(Value))
               || Header <- Headers,
                  [Name, Value] <- [binary:split(Header, <<":">>)],
                  string:lowercase(Name) =:= <<"content-length">>],
    case Lengths of
        [Length | _] -> Length;
        [] -> until_closed
    end.

recv_body(_Socket, Body, Length) when is_integer(Length), byte_size(Body) >= Length ->
    {ok, Body};
recv_body(Socket, Body, Length) ->
    case ssl:recv(Socket, 0, 10000) of
        {ok, Data} -> recv_body(Socket, <<Body/binary, Data/binary>>, Length);
        {error, closed} when Length =:= until_closed -> {ok, Body};
        {error, _} = Error -> Error
    end.
