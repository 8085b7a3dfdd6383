using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Cache.Semantic;

/// <summary>
/// Finds what the semantic cache compares in a chat request: the last element of <c>messages</c>, when it is a
/// user turn made of text only (a string, or parts of type <c>text</c>, in OpenAI's or Anthropic's shape). The rest
/// of the request (earlier turns, the system prompt, tools, parameters) must match exactly, so its place in the body
/// is returned too, to be left out of the partition's hash.
/// </summary>
internal static class LastUserTurn
{
    /// <summary>
    /// The text of the last user turn and where that turn sits in <paramref name="body"/> (valid JSON, as the inspector
    /// checked); false when the last message is not a user's, holds anything but text, or there are no messages.
    /// </summary>
    public static bool TryFind(ReadOnlySpan<byte> body, out string text, out Range turn)
    {
        text = "";
        turn = default;
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isMessages = reader.ValueTextEquals("messages"u8);
            reader.Read();
            if (!isMessages || reader.TokenType != JsonTokenType.StartArray)
            {
                reader.TrySkip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                reader.TrySkip();
                turn = start..(int)reader.BytesConsumed;
                found = true;
            }
        }
        return found && TryReadText(body[turn], out text);
    }

    /// <summary>The text of one message when it is a user's and all text.</summary>
    private static bool TryReadText(ReadOnlySpan<byte> message, out string text)
    {
        text = "";
        var reader = new Utf8JsonReader(message);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }
        var user = false;
        var builder = new StringBuilder();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("role"u8))
            {
                reader.Read();
                user = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("user"u8);
            }
            else if (reader.ValueTextEquals("content"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    builder.Append(reader.GetString());
                }
                else if (reader.TokenType != JsonTokenType.StartArray || !TryReadParts(ref reader, builder))
                {
                    return false;
                }
            }
            else
            {
                // name, cache_control and the like: a turn with a name is still the same question.
                reader.Read();
                reader.TrySkip();
            }
        }
        text = builder.ToString();
        return user && text.Length > 0;
    }

    /// <summary>Appends the text of <c>[{"type":"text","text":"…"}, …]</c>; false at any part that is not text.</summary>
    private static bool TryReadParts(ref Utf8JsonReader reader, StringBuilder builder)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            var isText = false;
            string? part = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    isText = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("text"u8);
                }
                else if (reader.ValueTextEquals("text"u8))
                {
                    reader.Read();
                    part = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else
                {
                    reader.Read();
                    reader.TrySkip();
                }
            }
            if (!isText || part is null)
            {
                return false;
            }
            if (builder.Length > 0)
            {
                builder.Append('\n');
            }
            builder.Append(part);
        }
        return reader.TokenType == JsonTokenType.EndArray;
    }
}
