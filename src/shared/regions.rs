//! AWS Region names, so that a plan's `aws.region` is checked offline against the Regions that
//! exist rather than against their shape.
//!
//! Copied from botocore's partition data (`botocore/data/partitions.json`, botocore 1.44.8:
//! https://github.com/boto/botocore/blob/develop/botocore/data/partitions.json), every partition,
//! without the `*-global` pseudo-Regions that name no Region. The commercial Regions are also listed
//! on https://docs.aws.amazon.com/general/latest/gr/rande.html. When AWS opens a Region, add its row.

/// One AWS Region: its code, the partition it belongs to, and the name AWS gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub partition: &'static str,
    pub name: &'static str,
}

const fn region(code: &'static str, partition: &'static str, name: &'static str) -> Region {
    Region { code, partition, name }
}

pub const AWS_REGIONS: &[Region] = &[
    region("af-south-1", "aws", "Africa (Cape Town)"),
    region("ap-east-1", "aws", "Asia Pacific (Hong Kong)"),
    region("ap-east-2", "aws", "Asia Pacific (Taipei)"),
    region("ap-northeast-1", "aws", "Asia Pacific (Tokyo)"),
    region("ap-northeast-2", "aws", "Asia Pacific (Seoul)"),
    region("ap-northeast-3", "aws", "Asia Pacific (Osaka)"),
    region("ap-south-1", "aws", "Asia Pacific (Mumbai)"),
    region("ap-south-2", "aws", "Asia Pacific (Hyderabad)"),
    region("ap-southeast-1", "aws", "Asia Pacific (Singapore)"),
    region("ap-southeast-2", "aws", "Asia Pacific (Sydney)"),
    region("ap-southeast-3", "aws", "Asia Pacific (Jakarta)"),
    region("ap-southeast-4", "aws", "Asia Pacific (Melbourne)"),
    region("ap-southeast-5", "aws", "Asia Pacific (Malaysia)"),
    region("ap-southeast-6", "aws", "Asia Pacific (New Zealand)"),
    region("ap-southeast-7", "aws", "Asia Pacific (Thailand)"),
    region("ca-central-1", "aws", "Canada (Central)"),
    region("ca-west-1", "aws", "Canada West (Calgary)"),
    region("eu-central-1", "aws", "Europe (Frankfurt)"),
    region("eu-central-2", "aws", "Europe (Zurich)"),
    region("eu-north-1", "aws", "Europe (Stockholm)"),
    region("eu-south-1", "aws", "Europe (Milan)"),
    region("eu-south-2", "aws", "Europe (Spain)"),
    region("eu-west-1", "aws", "Europe (Ireland)"),
    region("eu-west-2", "aws", "Europe (London)"),
    region("eu-west-3", "aws", "Europe (Paris)"),
    region("il-central-1", "aws", "Israel (Tel Aviv)"),
    region("me-central-1", "aws", "Middle East (UAE)"),
    region("me-south-1", "aws", "Middle East (Bahrain)"),
    region("me-west-1", "aws", "Middle East (Saudi Arabia)"),
    region("mx-central-1", "aws", "Mexico (Central)"),
    region("sa-east-1", "aws", "South America (Sao Paulo)"),
    region("sa-west-1", "aws", "South America (Chile)"),
    region("us-east-1", "aws", "US East (N. Virginia)"),
    region("us-east-2", "aws", "US East (Ohio)"),
    region("us-west-1", "aws", "US West (N. California)"),
    region("us-west-2", "aws", "US West (Oregon)"),
    region("cn-north-1", "aws-cn", "China (Beijing)"),
    region("cn-northwest-1", "aws-cn", "China (Ningxia)"),
    region("eusc-de-east-1", "aws-eusc", "AWS European Sovereign Cloud (Germany)"),
    region("us-iso-east-1", "aws-iso", "US ISO East"),
    region("us-iso-west-1", "aws-iso", "US ISO WEST"),
    region("us-isob-east-1", "aws-iso-b", "US ISOB East (Ohio)"),
    region("us-isob-west-1", "aws-iso-b", "US ISOB West"),
    region("eu-isoe-west-1", "aws-iso-e", "EU ISOE West"),
    region("us-isof-east-1", "aws-iso-f", "US ISOF EAST"),
    region("us-isof-south-1", "aws-iso-f", "US ISOF SOUTH"),
    region("us-gov-east-1", "aws-us-gov", "AWS GovCloud (US-East)"),
    region("us-gov-west-1", "aws-us-gov", "AWS GovCloud (US-West)"),
];

/// The Region called `code`, exactly as AWS writes it (lowercase).
pub fn aws_region(code: &str) -> Option<&'static Region> {
    AWS_REGIONS.iter().find(|r| r.code == code)
}

/// Every Region code, for suggestions.
pub fn aws_region_codes() -> impl Iterator<Item = &'static str> {
    AWS_REGIONS.iter().map(|r| r.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_commercial_china_and_govcloud_regions_and_no_pseudo_region() {
        assert_eq!(aws_region("us-east-1").map(|r| r.name), Some("US East (N. Virginia)"));
        assert_eq!(aws_region("cn-north-1").map(|r| r.partition), Some("aws-cn"));
        assert_eq!(aws_region("us-gov-west-1").map(|r| r.partition), Some("aws-us-gov"));
        assert!(aws_region("aws-global").is_none());
        assert!(aws_region("us-est-1").is_none());
        assert!(aws_region("US-EAST-1").is_none());
    }

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<&str> = aws_region_codes().collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), AWS_REGIONS.len());
    }
}
