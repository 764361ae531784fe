//! Choosing between one CopyObject and a multipart UploadPartCopy, and the part size.
//!
//! S3's limits: CopyObject copies at most 5 GiB; a multipart upload has at most 10,000 parts
//! of 5 MiB–5 GiB (the last may be smaller); an object is at most 5 TiB. Local S3 servers do
//! not enforce the 5 GiB CopyObject limit, so the engine does, here.

use std::ops::Range;

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;
/// 1 GiB.
pub const GIB: u64 = 1024 * MIB;
/// Largest object a single CopyObject may copy.
pub const MAX_COPY_OBJECT: u64 = 5 * GIB;
/// Smallest part (all but the last).
pub const MIN_PART: u64 = 5 * MIB;
/// Largest part.
pub const MAX_PART: u64 = 5 * GIB;
/// Most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// Largest S3 object.
pub const MAX_OBJECT: u64 = 5 * 1024 * GIB;
/// Fewest parts of a multipart copy while parts can stay at least [`MIN_PART`]: an object
/// just above the threshold is split this many ways so its parts copy in parallel (a
/// 300 MiB object at the default 64 MiB parts would be 5 parts, the last a stub).
pub const MIN_PARTS: u64 = 8;

/// How one object is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyPlan {
    /// One CopyObject.
    Single,
    /// UploadPartCopy in `parts` parts of `part_size` bytes (the last one shorter).
    Multipart { part_size: u64, parts: u64 },
}

/// Plans the copy of an object of `size` bytes. `threshold` is the largest size copied with
/// one CopyObject (clamped to 5 GiB); `part_size` the preferred part size. The part size is
/// chosen for the object: lowered so that it has at least [`MIN_PARTS`] parts of equal size
/// (not below 5 MiB), raised when it would otherwise need more than 10,000 parts, and
/// clamped to 5 MiB–5 GiB. `None` for objects over 5 TiB, which S3 cannot hold.
pub fn plan(size: u64, threshold: u64, part_size: u64) -> Option<CopyPlan> {
    if size > MAX_OBJECT {
        return None;
    }
    if size <= threshold.min(MAX_COPY_OBJECT) {
        return Some(CopyPlan::Single);
    }
    let min_for_count = size.div_ceil(MAX_PARTS);
    let for_parallelism = size.div_ceil(MIN_PARTS);
    // Whole MiB parts read better in logs and keep ranges aligned.
    let part_size = part_size
        .min(for_parallelism)
        .max(min_for_count)
        .div_ceil(MIB)
        .saturating_mul(MIB)
        .clamp(MIN_PART, MAX_PART);
    Some(CopyPlan::Multipart {
        part_size,
        parts: size.div_ceil(part_size),
    })
}

/// Byte range of part `n` (1-based), end exclusive.
pub fn part_range(n: u64, part_size: u64, size: u64) -> Range<u64> {
    let start = (n - 1) * part_size;
    start..(start + part_size).min(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_multipart(size: u64, threshold: u64, pref: u64) -> (u64, u64) {
        let Some(CopyPlan::Multipart { part_size, parts }) = plan(size, threshold, pref) else {
            panic!("{size} should be multipart");
        };
        assert!(parts <= MAX_PARTS, "{parts} parts");
        assert!((MIN_PART..=MAX_PART).contains(&part_size));
        // The parts tile the object exactly.
        let mut next = 0;
        for n in 1..=parts {
            let r = part_range(n, part_size, size);
            assert_eq!(r.start, next);
            assert!(r.end > r.start);
            if n < parts {
                assert_eq!(r.end - r.start, part_size);
            }
            next = r.end;
        }
        assert_eq!(next, size);
        (part_size, parts)
    }

    #[test]
    fn small_objects_use_copy_object() {
        assert_eq!(plan(0, 256 * MIB, 64 * MIB), Some(CopyPlan::Single));
        assert_eq!(plan(256 * MIB, 256 * MIB, 64 * MIB), Some(CopyPlan::Single));
        check_multipart(256 * MIB + 1, 256 * MIB, 64 * MIB);
    }

    #[test]
    fn over_five_gib_is_always_multipart_whatever_the_threshold() {
        // A threshold above 5 GiB (or u64::MAX, "never multipart") must not let a CopyObject
        // above 5 GiB through: S3 rejects it, local servers do not.
        assert_eq!(
            plan(MAX_COPY_OBJECT, u64::MAX, 64 * MIB),
            Some(CopyPlan::Single)
        );
        let (part, parts) = check_multipart(MAX_COPY_OBJECT + 1, u64::MAX, 64 * MIB);
        assert_eq!(part, 64 * MIB);
        assert_eq!(parts, 81);
        check_multipart(6 * GIB, 10 * GIB, 5 * MIB);
    }

    #[test]
    fn part_size_grows_to_stay_within_ten_thousand_parts() {
        // 100 GiB at 5 MiB would be 20,480 parts.
        let (part, parts) = check_multipart(100 * GIB, 0, 5 * MIB);
        assert_eq!(part, 11 * MIB);
        assert_eq!(parts, 9_310);
        // Exactly 10,000 parts of the preferred size is fine.
        let (part, parts) = check_multipart(10_000 * 8 * MIB, 0, 8 * MIB);
        assert_eq!((part, parts), (8 * MIB, 10_000));
        // One byte more needs a bigger part.
        let (part, _) = check_multipart(10_000 * 8 * MIB + 1, 0, 8 * MIB);
        assert_eq!(part, 9 * MIB);
        // The largest object fits in 10,000 parts under 5 GiB each.
        let (part, parts) = check_multipart(MAX_OBJECT, 0, 5 * MIB);
        assert!(part <= MAX_PART && parts <= MAX_PARTS);
    }

    #[test]
    fn part_size_is_chosen_for_the_object() {
        // Just above the threshold: eight parts, not five of 64 MiB and a stub.
        assert_eq!(
            check_multipart(300 * MIB, 256 * MIB, 64 * MIB),
            (38 * MIB, 8)
        );
        assert_eq!(
            check_multipart(512 * MIB, 256 * MIB, 64 * MIB),
            (64 * MIB, 8)
        );
        // Large objects keep the preferred size.
        assert_eq!(
            check_multipart(6 * GIB, 256 * MIB, 64 * MIB),
            (64 * MIB, 96)
        );
        // Small multipart objects stop at 5 MiB parts.
        assert_eq!(check_multipart(20 * MIB, 0, 64 * MIB), (5 * MIB, 4));
    }

    #[test]
    fn part_size_is_clamped() {
        let (part, _) = check_multipart(20 * MIB, 0, 1);
        assert_eq!(part, MIN_PART, "parts are at least 5 MiB");
        let (part, _) = check_multipart(80 * GIB, 0, 8 * GIB);
        assert_eq!(part, MAX_PART, "parts are at most 5 GiB");
    }

    #[test]
    fn over_five_tib_cannot_be_copied() {
        assert_eq!(plan(MAX_OBJECT + 1, 0, 64 * MIB), None);
    }
}
