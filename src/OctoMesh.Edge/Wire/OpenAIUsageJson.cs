using System.Buffers;

namespace OctoMesh.Edge.Wire;

/// <summary>OpenAI's <c>usage</c> object, as a chat completion and the final stream chunk carry it.</summary>
internal static class OpenAIUsageJson
{
    public static void Write(IBufferWriter<byte> output, TokenUsage usage)
    {
        output.Write("{\"prompt_tokens\":"u8);
        OpenAIChunkWriter.WriteNumber(output, usage.PromptTokens);
        output.Write(",\"completion_tokens\":"u8);
        OpenAIChunkWriter.WriteNumber(output, usage.CompletionTokens);
        output.Write(",\"total_tokens\":"u8);
        OpenAIChunkWriter.WriteNumber(output, usage.TotalTokens);
        output.Write(",\"prompt_tokens_details\":{\"cached_tokens\":"u8);
        OpenAIChunkWriter.WriteNumber(output, usage.CachedTokens);
        output.Write(",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":"u8);
        OpenAIChunkWriter.WriteNumber(output, usage.ReasoningTokens);
        output.Write(",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}"u8);
    }

    public static byte[] Serialize(TokenUsage usage)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, usage);
        return buffer.WrittenSpan.ToArray();
    }
}
