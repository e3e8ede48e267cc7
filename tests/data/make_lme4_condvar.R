# Conditional modes and conditional variances of the random effects from lme4,
# ranef(m, condVar = TRUE), for pywemix's ranef(se=True).
# Run from the project root:  Rscript tests/data/make_lme4_condvar.R
# Writes tests/data/lme4_condvar.json. Needs R with lme4 and jsonlite
# (Debian: r-cran-lme4 r-cran-jsonlite).
#
# Per case: the formula, the data file (in tests/reference/data), the fit
# (ML, as pywemix fits by default; Laplace for the glmer case), the fixed
# effects (to check that the same fit is compared), and per grouping factor
# and term the group ids, condval and condsd of as.data.frame(ranef(...)).
# For the random-slope case also each group's 2 x 2 postVar matrix.
suppressMessages({library(lme4); library(jsonlite)})
ref <- file.path("tests", "reference", "data")
sleep <- read.csv(file.path(ref, "sleepstudy.csv"))
sleep$Subject <- factor(sleep$Subject)
pastes <- read.csv(file.path(ref, "pastes.csv"))
ctrl <- lmerControl(optCtrl = list(ftol_abs = 1e-12, xtol_abs = 1e-10))
fe_names <- function(v) { names(v)[names(v) == "(Intercept)"] <- "Intercept"; as.list(v) }
term_name <- function(t) sub("\\(Intercept\\)", "Intercept", t)

modes <- function(m) {
  d <- as.data.frame(ranef(m, condVar = TRUE))
  out <- list()
  for (g in unique(as.character(d$grpvar))) {
    dg <- d[d$grpvar == g, ]
    out[[g]] <- lapply(split(dg, as.character(dg$term)), function(x)
      list(group = as.character(x$grp), condval = x$condval, condsd = x$condsd))
    names(out[[g]]) <- term_name(names(out[[g]]))
  }
  out
}

case <- function(m, formula, data, extra = list()) {
  c(list(formula = paste(deparse(formula), collapse = ""), data = data,
         llf = as.numeric(logLik(m)), params = fe_names(fixef(m)), ranef = modes(m)),
    extra)
}

f1 <- Reaction ~ Days + (Days | Subject)
m1 <- lmer(f1, data = sleep, REML = FALSE, control = ctrl)
pv <- attr(ranef(m1, condVar = TRUE)$Subject, "postVar")  # 2 x 2 x 18
post_var <- lapply(seq_len(dim(pv)[3]), function(j) pv[, , j])
names(post_var) <- rownames(ranef(m1)$Subject)

f2 <- strength ~ 1 + (1 | sample) + (1 | batch)
m2 <- lmer(f2, data = pastes, REML = FALSE, control = ctrl)

f3 <- bin ~ Days + (1 | Subject)
m3 <- glmer(f3, data = sleep, family = binomial, nAGQ = 1,
            control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))

out <- list(
  sleep_slope = case(m1, f1, "sleepstudy.csv",
                     list(terms = c("Intercept", "Days"), post_var = post_var)),
  pastes_nested = case(m2, f2, "pastes.csv"),
  sleep_binomial_laplace = case(m3, f3, "sleepstudy.csv", list(family = "binomial", nAGQ = 1)),
  lme4_version = as.character(packageVersion("lme4"))
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path("tests", "data", "lme4_condvar.json"))
