namespace OctoMesh.Routing.Configuration;

/// <summary>The <c>trace</c> section: where and how the trace log of every request is kept. Fixed at start.</summary>
/// <param name="Enabled">Off only where no billing is needed: requests are then metered in metrics alone.</param>
/// <param name="Directory">The log's directory; relative paths are from the working directory.</param>
/// <param name="CommitMs">Group commit interval: a record is durable at most about this long after its request ends.</param>
/// <param name="MaxBacklog">Records held in memory while the disk is slow or failing; past this, records are dropped and counted.</param>
/// <param name="RetentionDays">Records older than this are truncated away (a whole number of days; 0 keeps everything).</param>
public sealed record TraceConfig(bool Enabled = true, string Directory = TraceConfig.DefaultDirectory, int CommitMs = 100, int MaxBacklog = 65_536, int RetentionDays = 400)
{
    public const string DefaultDirectory = "data/trace";
}
