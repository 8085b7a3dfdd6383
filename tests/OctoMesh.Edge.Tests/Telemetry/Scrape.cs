using System.Globalization;
using OctoMesh.Edge.Tests.Hosting;

namespace OctoMesh.Edge.Tests.Telemetry;

/// <summary>One scrape of a gateway's <c>/metrics</c>, read back as series and values.</summary>
internal sealed class Scrape(string text)
{
    public string Text { get; } = text;

    public static async Task<Scrape> OfAsync(TestGateway test)
    {
        using var response = await test.Client.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return new Scrape(await response.Content.ReadAsStringAsync());
    }

    /// <summary>The sum of every series of <paramref name="name"/> whose labels include all of <paramref name="labels"/> (<c>name="value"</c> each).</summary>
    public double Sum(string name, params string[] labels) => Text.Split('\n')
        .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
        .Where(line => labels.All(label => line.Contains(label, StringComparison.Ordinal)))
        .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
