using OctoMesh.Edge.Privacy;

namespace OctoMesh.Edge.Tests.Privacy;

public class RedactorTests
{
    [Theory]
    [InlineData("my key is sk-proj-AbCdEfGhIjKlMnOpQrStUv123", "my key is [REDACTED:secret]")]
    [InlineData("use sk-ant-api03-abcdefghijklmnopqrstuvwx please", "use [REDACTED:secret] please")]
    [InlineData("AKIAIOSFODNN7EXAMPLE is the id", "[REDACTED:secret] is the id")]
    [InlineData("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [REDACTED:secret]")]
    [InlineData("google AIzaSyA-1234567890abcdefghijklmnopqrstu", "google [REDACTED:secret]")]
    [InlineData("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "Authorization: Bearer [REDACTED:secret]")]
    [InlineData("password=hunter22 and api_key: \"abcd1234\"", "password=[REDACTED:secret] and api_key: \"[REDACTED:secret]\"")]
    [InlineData("om-abcdefgh2345-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefg", "[REDACTED:secret]")]
    [InlineData("config {\"api_key\": \"abcd1234efgh\", \"password\":\"hunter22\"}", "config {\"api_key\": \"[REDACTED:secret]\", \"password\":\"[REDACTED:secret]\"}")]
    [InlineData("write to jane.doe+work@example.co.uk today", "write to [REDACTED:email] today")]
    [InlineData("card 4111 1111 1111 1111 exp 12/29", "card [REDACTED:card] exp 12/29")]
    [InlineData("card 5500-0000-0000-0004", "card [REDACTED:card]")]
    [InlineData("call +44 20 7946 0958 or (555) 123-4567", "call [REDACTED:phone] or [REDACTED:phone]")]
    [InlineData("or 555-123-4567.", "or [REDACTED:phone].")]
    public void SecretsAndPersonalDataAreReplaced(string text, string expected) => Assert.Equal(expected, Redactor.Redact(text));

    [Theory]
    [InlineData("order 4111 1111 1111 1112 is not a card (Luhn fails)")]
    [InlineData("on 2026-11-22 at 10:30, version 1.2.3, 12345 items, pi 3.14159")]
    [InlineData("the token count was 1234 and the password policy is strict")]
    [InlineData("{\"model\":\"gpt-4o-mini\",\"max_tokens\":256,\"temperature\":0.2}")]
    public void OrdinaryTextIsLeftAlone(string text) => Assert.Equal(text, Redactor.Redact(text));

    [Fact]
    public void JsonStaysJson()
    {
        var body = """{"messages":[{"role":"user","content":"I am bob@example.com, key sk-abcdefghijklmnopqrstuv"}]}""";
        var redacted = Redactor.Redact(body);
        using var document = System.Text.Json.JsonDocument.Parse(redacted);
        Assert.Equal("I am [REDACTED:email], key [REDACTED:secret]", document.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());
    }

    [Fact]
    public void InJsonOnlyStringValuesAreRedacted()
    {
        // A 13-digit number field that passes the Luhn check stays a number; the same digits in text are a card.
        const string Answer = """{"id":"c1","created":4222222222222,"choices":[{"message":{"content":"card 4222222222222"}}],"usage":{"total_tokens":12}}""";
        Assert.Equal("""{"id":"c1","created":4222222222222,"choices":[{"message":{"content":"card [REDACTED:card]"}}],"usage":{"total_tokens":12}}""",
            Redactor.RedactJson(Answer));
        Assert.Equal("not json: [REDACTED:email]", Redactor.RedactJson("not json: a@b.io"));
        // A property named like a secret loses its value whole, whatever its shape (tool arguments, pasted configs).
        Assert.Equal("""{"input":{"password":"[REDACTED:secret]","user":"bob","n":"ok"}}""",
            Redactor.RedactJson("""{"input":{"password":"x","user":"bob","n":"ok"}}"""));
    }
}
