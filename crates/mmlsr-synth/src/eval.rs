//! Brute-force dense text→image retrieval, for the dataset card and the calibration check.

use crate::linalg::matmul_bt;

/// Text→image effectiveness of dense retrieval (percent), one relevant image per caption.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DenseEval {
    /// Number of caption queries.
    pub queries: usize,
    /// Number of images searched.
    pub images: usize,
    /// Recall@1 (= Success@1 with one relevant image).
    pub r1: f64,
    /// Recall@5.
    pub r5: f64,
    /// Recall@10.
    pub r10: f64,
    /// MRR@10.
    pub mrr10: f64,
}

/// Score every caption against every image by inner product and rank the caption's image.
/// Ties are broken as trec_eval does: higher score first, then document id descending in
/// string order.
///
/// `images` is `image_ids.len() × dim`, `texts` is `caption_image.len() × dim` (row-major);
/// `caption_image[q]` is the row of query `q`'s relevant image.
///
/// # Panics
/// If the shapes disagree.
pub fn text_to_image(
    images: &[f32],
    image_ids: &[&str],
    texts: &[f32],
    caption_image: &[usize],
    dim: usize,
) -> DenseEval {
    let n_img = image_ids.len();
    let n_q = caption_image.len();
    assert_eq!(images.len(), n_img * dim);
    assert_eq!(texts.len(), n_q * dim);
    const BLOCK: usize = 1024;
    let mut scores = vec![0.0f32; BLOCK * n_img];
    let (mut hits1, mut hits5, mut hits10, mut rr) = (0usize, 0usize, 0usize, 0.0f64);
    for start in (0..n_q).step_by(BLOCK) {
        let end = (start + BLOCK).min(n_q);
        let rows = end - start;
        let block = &mut scores[..rows * n_img];
        matmul_bt(
            &texts[start * dim..end * dim],
            rows,
            dim,
            images,
            n_img,
            block,
        );
        for (q, row) in block.chunks_exact(n_img).enumerate() {
            let target = caption_image[start + q];
            let (s, id) = (row[target], image_ids[target]);
            let ahead = row
                .iter()
                .zip(image_ids)
                .filter(|&(&x, &other)| x > s || (x == s && other > id))
                .count();
            let rank = ahead + 1;
            hits1 += (rank <= 1) as usize;
            hits5 += (rank <= 5) as usize;
            hits10 += (rank <= 10) as usize;
            if rank <= 10 {
                rr += 1.0 / rank as f64;
            }
        }
    }
    let pct = |x: f64| 100.0 * x / n_q.max(1) as f64;
    DenseEval {
        queries: n_q,
        images: n_img,
        r1: pct(hits1 as f64),
        r5: pct(hits5 as f64),
        r10: pct(hits10 as f64),
        mrr10: pct(rr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_ties_follow_trec_eval() {
        // Three images in 2-d; ids chosen so string order differs from numeric order.
        let images = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let ids = ["9", "10", "100"];
        // Query 0 targets image "9" but ties with "100" (string "9" > "100", so "9" wins).
        // Query 1 targets "100", tied with "9": "9" ranks first, so rank 2.
        // Query 2 targets "10" (score 1) behind nothing: rank 1.
        // Query 3 targets "10" but scores 0 there and 2 elsewhere: rank 3 (> 10? no, 3).
        let texts = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0];
        let e = text_to_image(&images, &ids, &texts, &[0, 2, 1, 1], 2);
        assert_eq!(e.r1, 50.0);
        assert_eq!(e.r5, 100.0);
        assert!((e.mrr10 - 100.0 * (1.0 + 0.5 + 1.0 + 1.0 / 3.0) / 4.0).abs() < 1e-9);
    }
}
