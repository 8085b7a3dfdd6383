namespace OctoMesh.Edge.Optimizer;

/// <summary>The Wilson score interval of a proportion: how low the true rate may be, given the successes seen.</summary>
internal static class Wilson
{
    /// <summary>The lower bound at <paramref name="z"/> standard deviations (1.645: one-sided 95%); 0 with no trials.</summary>
    public static double LowerBound(double successes, int trials, double z = 1.645)
    {
        if (trials <= 0)
        {
            return 0;
        }
        var p = successes / trials;
        var z2 = z * z;
        var centre = p + z2 / (2 * trials);
        var margin = z * Math.Sqrt(p * (1 - p) / trials + z2 / (4.0 * trials * trials));
        return Math.Max(0, (centre - margin) / (1 + z2 / trials));
    }
}
